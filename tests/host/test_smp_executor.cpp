// The executor, Event and the frame pools with host threads playing pCPUs: cross-pCPU wake-ups
// are neither lost nor doubled and run on the waiter's own pCPU, frames go back to the pool
// they came from, and cancelling a waiter races safely with setting its event. Built into the
// host suite (ASan/UBSan) and into the ThreadSanitizer one (the host-tsan preset).
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "corvisor/frame_pool.hpp"
#include "corvisor/task.hpp"
#include "exec/cpu.hpp"
#include "exec/executor.hpp"
#include "test_smp_harness.hpp"

using namespace corvisor;
using namespace corvisor::test;

namespace {

constexpr std::uint32_t kPcpus = 4;

// ---- Events set from other pCPUs ------------------------------------------------------------

constexpr std::uint32_t kSlotsPerPcpu = 8;
constexpr std::uint32_t kRounds = 2000;  // per slot: 4 x 8 x 2000 = 64,000 waits
constexpr std::uint64_t kWakeIterationCap = 200'000'000;

/// One coroutine's wait-set-reset cycle. Round r: the waiter resets the event, publishes r in
/// `ready`, and waits; exactly one setter (on another pCPU) claims r in `claimed` and sets it.
struct Slot {
    Event event;
    std::atomic<std::uint32_t> ready{0};
    std::atomic<std::uint32_t> claimed{0};
    // The waiter's pCPU only (read by the test after the join).
    std::uint32_t owner = 0;
    std::uint32_t completed = 0;
    std::uint32_t unclaimed_wakes = 0;  ///< woke with the round not claimed or the event unset
    std::uint32_t foreign_resumes = 0;  ///< resumed on a pCPU other than its own
    bool finished = false;
};

Task<void> wait_rounds(Slot& s, std::atomic<std::uint32_t>& finished) {
    for (std::uint32_t r = 1; r <= kRounds; ++r) {
        s.event.reset();
        s.ready.store(r, std::memory_order_release);
        co_await s.event.wait();
        if (s.claimed.load(std::memory_order_acquire) != r || !s.event.is_set()) {
            ++s.unclaimed_wakes;
        }
        if (this_cpu().id != s.owner) {
            ++s.foreign_resumes;
        }
        ++s.completed;
    }
    s.finished = true;
    finished.fetch_add(1, std::memory_order_acq_rel);
}

struct WakeStats {
    std::uint64_t sets = 0;
    std::uint64_t posted = 0;  ///< set() returned true: it posted a registered waiter
    std::uint64_t resumes = 0;
    std::uint64_t remote_posts = 0;
    bool started = false;
    bool idle_at_end = false;
};

// ---- Ping-pong ------------------------------------------------------------------------------

constexpr std::uint32_t kPingPongRounds = 10'000;
constexpr std::uint64_t kPingPongIterationCap = 100'000'000;

struct PingPong {
    Event ping;  // pCPU 0 -> pCPU 1
    Event pong;  // pCPU 1 -> pCPU 0
    /// Plain data handed back and forth: only the events order the accesses (TSan checks it).
    std::uint64_t sequence = 0;
    std::uint32_t out_of_order = 0;  // written by whichever side holds the ball
    std::array<std::uint32_t, 2> foreign_resumes{};
    std::array<std::uint32_t, 2> rounds{};
};

Task<void> pinger(PingPong& p) {
    for (std::uint32_t r = 0; r < kPingPongRounds; ++r) {
        if (p.sequence != 2ull * r) {
            ++p.out_of_order;
        }
        p.sequence = 2ull * r + 1;
        p.ping.set();
        co_await p.pong.wait();
        p.pong.reset();
        if (this_cpu().id != 0) {
            ++p.foreign_resumes[0];
        }
        ++p.rounds[0];
    }
}

Task<void> ponger(PingPong& p) {
    for (std::uint32_t r = 0; r < kPingPongRounds; ++r) {
        co_await p.ping.wait();
        p.ping.reset();
        if (this_cpu().id != 1) {
            ++p.foreign_resumes[1];
        }
        if (p.sequence != 2ull * r + 1) {
            ++p.out_of_order;
        }
        p.sequence = 2ull * r + 2;
        ++p.rounds[1];
        p.pong.set();
    }
}

// ---- Frames freed on other pCPUs ------------------------------------------------------------

constexpr std::uint32_t kFrameBatch = 8;
constexpr std::uint64_t kFramesPerPcpu = 1000 * kFrameBatch;
constexpr std::uint64_t kFrameIterationCap = 100'000'000;
constexpr std::size_t kMaxOutstanding = 32;  // of a pool's 64 blocks: never exhausts it

Task<int> parked(int v) {
    co_return v;
}

/// Frames (Task addresses from release()) waiting for another pCPU to destroy them.
struct Mailbox {
    std::mutex lock;
    std::vector<std::pair<void*, std::uint32_t>> frames;  // (frame, the pCPU that made it)
};

struct FrameStats {
    FramePool* pool = nullptr;
    std::size_t in_use_start = 0;
    std::size_t in_use_after_remote = 0;  ///< once every frame it made was destroyed elsewhere
    std::size_t in_use_full = 0;          ///< allocating the whole free room again
    std::size_t in_use_end = 0;
    std::uint64_t made = 0;
    std::uint64_t allocations = 0;                  ///< the pool's count over the test
    std::uint64_t failures = 0;                     ///< the pool's refusals over the test
    std::array<std::uint64_t, kPcpus> destroyed{};  ///< frames of each maker destroyed here
    std::uint64_t wrong_pool = 0;  ///< a frame whose header names another pool than its maker's
    std::uint64_t invalid = 0;     ///< an empty Task (allocation failure)
    bool on_time = true;
};

// ---- Cancellation racing completion ---------------------------------------------------------

constexpr std::uint32_t kCancelRounds = 100'000;

/// How a round orders the two sides: the set lands first, the cancel lands first, or both go at
/// once (the race proper; either may win).
enum class Order : std::uint8_t { kSetFirst, kCancelFirst, kRace };

Task<void> cancellable(Event& event, Event::Waiter*& registered, bool& resumed) {
    Event::Waiter waiter = event.wait();
    registered = &waiter;
    co_await waiter;
    resumed = true;
}

}  // namespace

TEST_CASE("smp: events set from other pCPUs wake each waiter exactly once, on its own pCPU",
          "[smp][executor]") {
    for (std::uint32_t i = 0; i < kPcpus; ++i) {
        REQUIRE(cpu_local(i).executor.idle());
    }
    auto slots = std::make_unique<std::array<std::array<Slot, kSlotsPerPcpu>, kPcpus>>();
    std::array<WakeStats, kPcpus> stats{};
    std::atomic<std::uint32_t> finished{0};
    std::atomic<bool> abort{false};
    SpinBarrier barrier(kPcpus);
    const Deadline deadline;
    constexpr std::uint32_t kTotal = kPcpus * kSlotsPerPcpu;

    run_pcpus(kPcpus, [&](std::uint32_t id) {
        Executor& ex = current_executor();
        WakeStats& st = stats[id];
        const std::uint64_t resumes0 = ex.resumes();
        const std::uint64_t remote0 = ex.remote_posts();
        std::vector<Task<void>> tasks;
        for (Slot& s : (*slots)[id]) {
            s.owner = id;
            tasks.push_back(wait_rounds(s, finished));
        }
        st.started = true;
        for (Task<void>& t : tasks) {
            st.started = st.started && t.valid();
        }
        if (!st.started) {
            abort.store(true);
        }
        // Every pCPU has its coroutines before anyone sets anything.
        if (!barrier.arrive_and_wait(deadline)) {
            abort.store(true);
        }
        if (!abort.load()) {
            for (Task<void>& t : tasks) {
                t.handle().resume();  // runs to its first wait
            }
        }
        std::minstd_rand rng(1234 + id);
        for (std::uint64_t it = 0; finished.load(std::memory_order_acquire) < kTotal; ++it) {
            if (abort.load(std::memory_order_relaxed) || it >= kWakeIterationCap ||
                (it % 4096 == 0 && deadline.expired())) {
                abort.store(true);
                break;
            }
            // Set the event of a random slot of another pCPU if its waiter is ready for the next
            // round and nobody claimed that round yet.
            const std::uint32_t other =
                (id + 1 + static_cast<std::uint32_t>(rng() % (kPcpus - 1))) % kPcpus;
            Slot& s = (*slots)[other][rng() % kSlotsPerPcpu];
            const std::uint32_t round = s.ready.load(std::memory_order_acquire);
            std::uint32_t last = s.claimed.load(std::memory_order_acquire);
            if (round > last &&
                s.claimed.compare_exchange_strong(last, round, std::memory_order_acq_rel)) {
                ++st.sets;
                if (s.event.set()) {
                    ++st.posted;
                }
            }
            if (!ex.run_one()) {
                std::this_thread::yield();
            }
        }
        // Nobody sets anything after this: what is still queued here runs now.
        if (!barrier.arrive_and_wait(deadline)) {
            abort.store(true);
        }
        ex.run_until_idle();
        st.idle_at_end = ex.idle();
        st.resumes = ex.resumes() - resumes0;
        st.remote_posts = ex.remote_posts() - remote0;
        // Frames go back to this pCPU's pool here (the tasks are done unless the test failed).
    });

    CHECK_FALSE(abort.load());
    CHECK(finished.load() == kTotal);
    std::uint64_t sets = 0;
    std::uint64_t posted = 0;
    std::uint64_t resumes = 0;
    std::uint64_t remote_posts = 0;
    for (std::uint32_t i = 0; i < kPcpus; ++i) {
        INFO("pCPU " << i);
        CHECK(stats[i].started);
        CHECK(stats[i].idle_at_end);
        sets += stats[i].sets;
        posted += stats[i].posted;
        resumes += stats[i].resumes;
        remote_posts += stats[i].remote_posts;
        for (const Slot& s : (*slots)[i]) {
            CHECK(s.finished);
            CHECK(s.completed == kRounds);
            CHECK(s.unclaimed_wakes == 0);
            CHECK(s.foreign_resumes == 0);
            CHECK(s.claimed.load() == kRounds);
        }
    }
    // One set per wait; a set that found its waiter registered posted it, through the inbox (it
    // came from another pCPU), and that post is exactly one resumption (the coroutines were
    // started directly, not through the executor).
    CHECK(sets == std::uint64_t{kTotal} * kRounds);
    CHECK(posted > 0);
    CHECK(resumes == posted);
    CHECK(remote_posts == posted);
}

TEST_CASE("smp: a ping-pong through events between coroutines on two pCPUs loses no round",
          "[smp][executor]") {
    REQUIRE(cpu_local(0).executor.idle());
    REQUIRE(cpu_local(1).executor.idle());
    PingPong p;
    std::array<bool, 2> done{};
    std::array<bool, 2> idle{};
    std::atomic<bool> abort{false};
    SpinBarrier barrier(2);
    const Deadline deadline;

    run_pcpus(2, [&](std::uint32_t id) {
        Executor& ex = current_executor();
        Task<void> task = id == 0 ? pinger(p) : ponger(p);
        if (!task.valid()) {
            abort.store(true);
        }
        // The ponger waits before the first ping (either order works; this one is the usual).
        if (id == 1 && task.valid()) {
            task.handle().resume();
        }
        if (!barrier.arrive_and_wait(deadline)) {
            abort.store(true);
        }
        if (id == 0 && task.valid() && !abort.load()) {
            task.handle().resume();
        }
        for (std::uint64_t it = 0; task.valid() && !task.done(); ++it) {
            if (abort.load(std::memory_order_relaxed) || it >= kPingPongIterationCap ||
                (it % 4096 == 0 && deadline.expired())) {
                abort.store(true);
                break;
            }
            if (!ex.run_one()) {
                std::this_thread::yield();
            }
        }
        done[id] = task.done();
        if (!barrier.arrive_and_wait(deadline)) {
            abort.store(true);
        }
        ex.run_until_idle();
        idle[id] = ex.idle();
    });

    CHECK_FALSE(abort.load());
    CHECK(done[0]);
    CHECK(done[1]);
    CHECK(idle[0]);
    CHECK(idle[1]);
    CHECK(p.rounds[0] == kPingPongRounds);
    CHECK(p.rounds[1] == kPingPongRounds);
    CHECK(p.sequence == 2ull * kPingPongRounds);
    CHECK(p.out_of_order == 0);
    CHECK(p.foreign_resumes[0] == 0);
    CHECK(p.foreign_resumes[1] == 0);
}

TEST_CASE("smp: coroutine frames destroyed on another pCPU go back to their own pool",
          "[smp][frame_pool]") {
    std::array<FrameStats, kPcpus> stats{};
    std::array<Mailbox, kPcpus> mailboxes;
    std::atomic<std::uint32_t> makers_done{0};
    std::atomic<bool> abort{false};
    SpinBarrier barrier(kPcpus);
    const Deadline deadline;

    run_pcpus(kPcpus, [&](std::uint32_t id) {
        FrameStats& st = stats[id];
        FramePool& pool = current_frame_pool();
        st.pool = &pool;
        st.in_use_start = pool.in_use();
        const std::uint64_t allocations0 = pool.allocations();
        const std::uint64_t failures0 = pool.failures();
        const auto wait_all = [&] {
            if (!barrier.arrive_and_wait(deadline)) {
                st.on_time = false;
                abort.store(true);
            }
        };
        const auto destroy_received = [&] {
            std::vector<std::pair<void*, std::uint32_t>> got;
            {
                const std::lock_guard<std::mutex> g(mailboxes[id].lock);
                got.swap(mailboxes[id].frames);
            }
            for (const auto& [frame, maker] : got) {
                // The header names the maker's pool (stats[maker].pool was published before the
                // first barrier).
                if (&FramePool::of(frame) != stats[maker].pool) {
                    ++st.wrong_pool;
                }
                Task<int>::adopt(frame).reset();  // frees it from this pCPU: a remote free
                ++st.destroyed[maker % kPcpus];
            }
        };
        wait_all();  // every pool is published

        std::minstd_rand rng(777 + id);
        std::vector<std::pair<void*, std::uint32_t>> batch;
        bool making = true;
        for (std::uint64_t it = 0; makers_done.load(std::memory_order_acquire) < kPcpus; ++it) {
            if (abort.load(std::memory_order_relaxed) || it >= kFrameIterationCap ||
                (it % 256 == 0 && deadline.expired())) {
                abort.store(true);
                break;
            }
            // New frames for a random other pCPU, while fewer than kMaxOutstanding of this
            // pool's are out (the count drops as soon as the other side frees them: several
            // pCPUs push onto one pool's remote list at once).
            if (making && pool.in_use() - st.in_use_start + kFrameBatch <= kMaxOutstanding) {
                const std::uint32_t next =
                    (id + 1 + static_cast<std::uint32_t>(rng() % (kPcpus - 1))) % kPcpus;
                batch.clear();
                for (std::uint32_t b = 0; b < kFrameBatch; ++b) {
                    Task<int> t = parked(static_cast<int>(b));
                    if (!t.valid()) {
                        ++st.invalid;
                        continue;
                    }
                    batch.emplace_back(t.release(), id);
                    ++st.made;
                }
                {
                    const std::lock_guard<std::mutex> g(mailboxes[next].lock);
                    mailboxes[next].frames.insert(mailboxes[next].frames.end(), batch.begin(),
                                                  batch.end());
                }
                if (st.made >= kFramesPerPcpu || st.invalid != 0) {
                    making = false;
                    makers_done.fetch_add(1, std::memory_order_acq_rel);
                }
            }
            // Destroying goes on until every pCPU has made all of its frames.
            destroy_received();
            if (it % 4 == 0) {
                std::this_thread::yield();
            }
        }
        wait_all();  // nobody sends any more
        destroy_received();
        wait_all();  // every frame is destroyed
        // Each block this pool lent out is on its remote list now: not in use.
        st.in_use_after_remote = pool.in_use();
        // Allocating all of the free room takes the remote list back once the local one is dry:
        // each block is there again (otherwise the pool runs out before it is full).
        {
            std::vector<Task<int>> all;
            while (pool.in_use() < pool.capacity()) {
                all.push_back(parked(0));
                if (!all.back().valid()) {
                    ++st.invalid;
                    break;
                }
            }
            st.in_use_full = pool.in_use();
        }
        st.in_use_end = pool.in_use();
        st.allocations = pool.allocations() - allocations0;
        st.failures = pool.failures() - failures0;
    });

    CHECK_FALSE(abort.load());
    for (std::uint32_t i = 0; i < kPcpus; ++i) {
        INFO("pCPU " << i);
        const FrameStats& st = stats[i];
        std::uint64_t destroyed = 0;
        for (const FrameStats& receiver : stats) {
            destroyed += receiver.destroyed[i];
        }
        CHECK(st.destroyed[i] == 0);  // nobody sends its frames to itself
        CHECK(st.on_time);
        CHECK(st.invalid == 0);
        CHECK(st.failures == 0);
        CHECK(st.wrong_pool == 0);
        CHECK(st.made == kFramesPerPcpu);
        CHECK(destroyed == st.made);
        CHECK(st.in_use_after_remote == st.in_use_start);
        CHECK(st.in_use_full == st.pool->capacity());
        CHECK(st.in_use_end == st.in_use_start);
        // The frames destroyed here went to their makers' pools, not to this one: this pool
        // allocated exactly its own frames.
        CHECK(st.allocations == st.made + (st.pool->capacity() - st.in_use_start));
    }
}

TEST_CASE("smp: cancelling a waiter while another pCPU sets its event resumes it or cancels it",
          "[smp][executor]") {
    REQUIRE(cpu_local(0).executor.idle());
    REQUIRE(cpu_local(1).executor.idle());
    Event event;
    std::atomic<std::uint32_t> go{0};
    std::atomic<std::uint32_t> set_done{0};
    std::atomic<std::uint32_t> cancel_done{0};
    std::atomic<bool> abort{false};
    bool set_posted = false;  // pCPU 1's, read by pCPU 0 after set_done
    const Deadline deadline;
    struct Outcomes {
        std::array<std::uint32_t, 3> resumed{};    // by Order
        std::array<std::uint32_t, 3> cancelled{};  // by Order
        std::uint32_t both = 0;     ///< cancelled and resumed, or cancel and set both "won"
        std::uint32_t neither = 0;  ///< not cancelled and never resumed
        std::uint32_t not_registered = 0;
        std::uint32_t stray_posts = 0;  ///< something left on the executor after the round
        std::uint32_t invalid = 0;
    } out;
    const auto order_of = [](std::uint32_t r) { return static_cast<Order>(r % 3); };
    // Wait (bounded) until `flag` reaches `round`; false: give up, the test fails.
    const auto await_round = [&](const std::atomic<std::uint32_t>& flag, std::uint32_t round) {
        for (std::uint64_t spins = 0; flag.load(std::memory_order_acquire) < round; ++spins) {
            if (abort.load(std::memory_order_relaxed) ||
                (spins % 1024 == 1023 && deadline.expired())) {
                abort.store(true);
                return false;
            }
            std::this_thread::yield();
        }
        return true;
    };

    run_pcpus(2, [&](std::uint32_t id) {
        std::minstd_rand rng(99 + id);
        if (id == 1) {
            // The setter.
            for (std::uint32_t r = 1; r <= kCancelRounds; ++r) {
                if (!await_round(go, r)) {
                    return;
                }
                const Order order = order_of(r);
                if (order == Order::kCancelFirst && !await_round(cancel_done, r)) {
                    return;
                }
                if (order == Order::kRace) {
                    spin_for(static_cast<std::uint32_t>(rng() % 64));
                }
                set_posted = event.set();
                set_done.store(r, std::memory_order_release);
            }
            return;
        }
        // The waiter's pCPU, which also cancels. In the racing rounds it waits `race_delay`
        // before cancelling, longer after a cancel won and shorter after a set won: the delay
        // settles where the two land at about the same time.
        Executor& ex = current_executor();
        std::uint32_t race_delay = 0;
        for (std::uint32_t r = 1; r <= kCancelRounds; ++r) {
            const Order order = order_of(r);
            event.reset();
            Event::Waiter* registered = nullptr;
            bool resumed = false;
            Task<void> task = cancellable(event, registered, resumed);
            if (!task.valid()) {
                ++out.invalid;
                abort.store(true);
                return;
            }
            task.handle().resume();  // registers the waiter and suspends
            if (registered == nullptr || !event.has_waiter() || resumed) {
                ++out.not_registered;
            }
            // On a give-up (the test fails), still leave nothing behind: the waiter cancelled,
            // or its post run, before the frame goes.
            const auto withdraw = [&] {
                if (registered != nullptr && !event.cancel(*registered)) {
                    const Deadline grace(std::chrono::seconds(1));
                    while (set_done.load(std::memory_order_acquire) < r && !grace.expired()) {
                        std::this_thread::yield();
                    }
                    ex.run_until_idle();
                }
            };
            go.store(r, std::memory_order_release);
            if (order == Order::kSetFirst && !await_round(set_done, r)) {
                withdraw();
                return;
            }
            if (order == Order::kRace) {
                spin_for(race_delay + static_cast<std::uint32_t>(rng() % 64));
            }
            const bool cancelled = registered != nullptr && event.cancel(*registered);
            if (order == Order::kRace) {
                race_delay = cancelled ? race_delay + 16 : (race_delay > 16 ? race_delay - 16 : 0);
            }
            cancel_done.store(r, std::memory_order_release);
            if (!await_round(set_done, r)) {
                withdraw();
                return;
            }
            const bool posted = set_posted;
            if (cancelled == posted) {
                ++out.both;  // exactly one of the two may win the waiter
            }
            if (cancelled) {
                // Nothing was posted (the set is over: a post would be queued here by now), so
                // nothing resumes it; then the frame can go.
                if (ex.run_one()) {
                    ++out.stray_posts;
                }
                if (resumed) {
                    ++out.both;
                }
                task.reset();
                ++out.cancelled[static_cast<std::size_t>(order)];
            } else {
                // The set posted it here: one run resumes it, to its end.
                ex.run_one();
                if (!resumed || !task.done()) {
                    ++out.neither;
                }
                if (ex.run_one()) {
                    ++out.stray_posts;
                }
                ++out.resumed[static_cast<std::size_t>(order)];
            }
        }
    });

    CHECK_FALSE(abort.load());
    CHECK(out.invalid == 0);
    CHECK(out.not_registered == 0);
    CHECK(out.both == 0);
    CHECK(out.neither == 0);
    CHECK(out.stray_posts == 0);
    std::uint32_t total = 0;
    for (std::size_t o = 0; o < 3; ++o) {
        total += out.resumed[o] + out.cancelled[o];
    }
    CHECK(total == kCancelRounds);
    // The ordered rounds have one possible outcome each; the racing ones either.
    CHECK(out.cancelled[static_cast<std::size_t>(Order::kSetFirst)] == 0);
    CHECK(out.resumed[static_cast<std::size_t>(Order::kCancelFirst)] == 0);
    CHECK(out.resumed[static_cast<std::size_t>(Order::kSetFirst)] > 0);
    CHECK(out.cancelled[static_cast<std::size_t>(Order::kCancelFirst)] > 0);
    const std::uint32_t race_resumed = out.resumed[static_cast<std::size_t>(Order::kRace)];
    const std::uint32_t race_cancelled = out.cancelled[static_cast<std::size_t>(Order::kRace)];
    INFO("racing rounds: " << race_resumed << " resumed, " << race_cancelled << " cancelled");
    // The racing rounds' delay follows their outcomes, so they straddle the point where either
    // side can win: both outcomes show up, or the race was not run at all.
    CHECK(race_resumed > 0);
    CHECK(race_cancelled > 0);
}
