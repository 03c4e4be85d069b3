// Strands (exec/strand.hpp): a coroutine that waits under a strand goes on under it, so that the
// code after a `co_await` in a spread guest's device never runs beside another pCPU's call into
// the same devices. Built into the host suite and the ThreadSanitizer one (host-tsan), where the
// second test is a data race if the executor resumed without the strand.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>

#include "corvisor/task.hpp"
#include "exec/cpu.hpp"
#include "exec/executor.hpp"
#include "exec/strand.hpp"
#include "test_smp_harness.hpp"

using namespace corvisor;
using namespace corvisor::test;

namespace {

Task<void> note_strand_after_wait(Event& event, Strand*& seen) {
    co_await event.wait();
    seen = current_strand();
}

Task<void> note_strand_after_yield(Strand*& seen) {
    co_await current_executor().yield();
    seen = current_strand();
}

}  // namespace

TEST_CASE("smp: a coroutine that waits under a strand is resumed under it, and only it",
          "[smp][strand]") {
    host_select_cpu(0);
    Executor& ex = current_executor();
    REQUIRE(ex.idle());
    Strand strand;
    Event event;
    Strand none;  // what `seen` holds until the coroutine writes it
    Strand* seen = &none;

    SECTION("an Event waited on under the strand") {
        Task<void> t = note_strand_after_wait(event, seen);
        REQUIRE(t.valid());
        {
            const StrandGuard guard(strand);
            CHECK(current_strand() == &strand);
            t.handle().resume();  // runs to its wait
        }
        CHECK(current_strand() == nullptr);
        event.set();
        CHECK(seen == &none);  // not resumed inside set()
        ex.run_until_idle();
        CHECK(t.done());
        CHECK(seen == &strand);
        CHECK(current_strand() == nullptr);  // the executor left it again
    }
    SECTION("an Event waited on outside any strand") {
        Task<void> t = note_strand_after_wait(event, seen);
        REQUIRE(t.valid());
        t.handle().resume();
        {
            const StrandGuard guard(strand);
            event.set();  // set under a strand: the waiter still resumes without it
        }
        ex.run_until_idle();
        CHECK(t.done());
        CHECK(seen == nullptr);
    }
    SECTION("a yield under the strand") {
        Task<void> t = note_strand_after_yield(seen);
        REQUIRE(t.valid());
        {
            const StrandGuard guard(strand);
            t.handle().resume();
        }
        ex.run_until_idle();
        CHECK(t.done());
        CHECK(seen == &strand);
    }
    SECTION("nested guards restore the outer strand") {
        Strand inner;
        const StrandGuard outer_guard(strand);
        {
            const StrandGuard inner_guard(inner);
            CHECK(current_strand() == &inner);
            {
                const StrandGuard again(strand);  // recursive: this pCPU holds it already
                CHECK(current_strand() == &strand);
            }
            CHECK(current_strand() == &inner);
        }
        CHECK(current_strand() == &strand);
    }
    CHECK(ex.idle());
}

namespace {

constexpr std::uint32_t kStrandRounds = 1000;
constexpr std::uint64_t kStrandIterationCap = 200'000'000;

/// State that only code under `strand` touches: a plain counter, no atomics.
struct Guarded {
    Strand strand;
    Event event;
    std::atomic<std::uint32_t> ready{0};  // the round the coroutine waits for
    std::uint64_t count = 0;              // under the strand only
    std::uint32_t outside = 0;            // resumes that found no strand (pCPU 0 only)
};

/// pCPU 0: started under the strand; after each wake-up, counts under it (if the executor
/// resumed it under the strand) while pCPU 1 counts too.
Task<void> count_rounds(Guarded& g) {
    for (std::uint32_t r = 1; r <= kStrandRounds; ++r) {
        g.event.reset();
        g.ready.store(r, std::memory_order_release);
        co_await g.event.wait();
        if (current_strand() != &g.strand) {
            ++g.outside;
        }
        ++g.count;
    }
}

}  // namespace

TEST_CASE("smp: the code after a co_await under a strand never runs beside another pCPU's call",
          "[smp][strand]") {
    REQUIRE(cpu_local(0).executor.idle());
    REQUIRE(cpu_local(1).executor.idle());
    Guarded g;
    std::atomic<bool> abort{false};
    std::atomic<bool> finished{false};
    std::uint64_t counted_by_1 = 0;
    bool done = false;
    const Deadline deadline;

    run_pcpus(2, [&](std::uint32_t id) {
        if (id == 0) {
            Executor& ex = current_executor();
            Task<void> t = count_rounds(g);
            if (!t.valid()) {
                abort.store(true);
                return;
            }
            {
                const StrandGuard guard(g.strand);  // as a device's coroutine starts in mmio()
                t.handle().resume();
            }
            for (std::uint64_t it = 0; !t.done(); ++it) {
                if (abort.load(std::memory_order_relaxed) || it >= kStrandIterationCap ||
                    (it % 4096 == 0 && deadline.expired())) {
                    abort.store(true);
                    break;
                }
                if (!ex.run_one()) {
                    std::this_thread::yield();
                }
            }
            done = t.done();
            finished.store(true, std::memory_order_release);
            ex.run_until_idle();
            return;
        }
        // pCPU 1: another vCPU's device calls, each under the strand; one of them per round
        // wakes the coroutine.
        std::uint32_t claimed = 0;
        for (std::uint64_t it = 0; !finished.load(std::memory_order_acquire); ++it) {
            if (abort.load(std::memory_order_relaxed) || it >= kStrandIterationCap ||
                (it % 4096 == 0 && deadline.expired())) {
                abort.store(true);
                break;
            }
            {
                const StrandGuard guard(g.strand);
                ++g.count;
                ++counted_by_1;
                const std::uint32_t r = g.ready.load(std::memory_order_acquire);
                if (r > claimed) {
                    claimed = r;
                    g.event.set();
                }
            }
            std::this_thread::yield();  // let pCPU 0 take the strand too
        }
        current_executor().run_until_idle();
    });

    CHECK_FALSE(abort.load());
    CHECK(done);
    CHECK(g.outside == 0);
    CHECK(g.count == kStrandRounds + counted_by_1);  // no increment lost
}
