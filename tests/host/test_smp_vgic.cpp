// The vGIC of a guest spread over four pCPUs (Config::shared): host threads play the pCPUs, each
// running one vCPU's list registers (flush, the guest's acknowledge and deactivate, sync) while
// all of them send SGIs, drive SPI lines and move SPIs between vCPUs through GICD_IROUTER. At the
// end the model is consistent, every SGI and edge SPI sent while not pending was taken exactly
// once (the others at most once per send), and after a quiescent drain nothing is left pending
// or active.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>

#include "test_smp_harness.hpp"
#include "test_vgic_fixture.hpp"

using namespace corvisor;
using namespace corvisor::test;

namespace {

constexpr std::uint32_t kVcpus = 4;
constexpr std::uint32_t kSpis = 64;
constexpr std::uint32_t kIterations = 20'000;  // per pCPU
constexpr std::uint32_t kDrainRounds = 64;
constexpr std::uint32_t kDrainSteps = 256;

// SGIs 0-7 and the edge SPIs are sent only while not pending (a sender claims the (target,
// INTID) first; the target's guest releases it when it acknowledges): every send must be taken
// exactly once. SGIs 8-15 are sent at random and may coalesce with a pending one: each must be
// taken at most once per send, at least once if sent. Level SPIs follow random levels.
constexpr std::uint32_t kCountedSgis = 8;
constexpr std::uint32_t kFirstEdgeSpi = 32;
constexpr std::uint32_t kFirstLevelSpi = 64;
constexpr std::uint32_t kIntids = 32 + kSpis;

/// What one pCPU counted (its own, read by the test after the join).
struct PcpuCounts {
    std::array<std::array<std::uint64_t, 16>, kVcpus> sgi_sent{};  // [target][intid]
    std::array<std::uint64_t, 16> sgi_taken{};                     // by this pCPU's vCPU
    std::array<std::uint64_t, kIntids> spi_sent{};                 // edge SPIs' rising edges
    std::array<std::uint64_t, kIntids> spi_taken{};
    std::uint64_t acks = 0;
    std::uint64_t deactivations = 0;
    std::uint64_t irouter_writes = 0;
    std::uint64_t mmio_errors = 0;     ///< an access the model did not complete
    std::uint64_t foreign_hooks = 0;   ///< an access hook for another vCPU on this pCPU
    std::uint64_t phantom_intids = 0;  ///< an LR holding an INTID this guest does not have
    std::uint64_t released_twice = 0;  ///< acknowledged a counted interrupt nobody had sent
    std::uint32_t drain_rounds = 0;
};

/// The pCPU a thread plays: its vCPU and that vCPU's list registers (hardware and image).
struct Pcpu {
    Vgic* gic = nullptr;
    std::uint32_t vcpu = 0;
    ListRegisterFile lrs;
    PcpuCounts counts;
};
thread_local Pcpu* t_pcpu = nullptr;

/// Vm::vgic_access's part that matters here: a guest access to the vGIC first brings the model
/// up to date with the accessing vCPU's LRs, from that vCPU's own pCPU (under the model lock,
/// which the hook's sync takes again).
void access_hook(void*, std::uint32_t vcpu, bool) {
    Pcpu* p = t_pcpu;
    if (p == nullptr) {
        return;  // the test's own set-up
    }
    if (vcpu != p->vcpu) {
        ++p->counts.foreign_hooks;
        return;
    }
    p->gic->sync(vcpu, p->lrs);
}

void on_notify(void* ctx, std::uint32_t) {
    static_cast<std::atomic<std::uint64_t>*>(ctx)->fetch_add(1, std::memory_order_relaxed);
}

/// The shared state of the senders' claims: set while a counted interrupt is sent and not yet
/// acknowledged.
struct Claims {
    std::array<std::array<std::atomic<bool>, kCountedSgis>, kVcpus> sgi{};
    std::array<std::atomic<bool>, kIntids> spi{};
    /// Held by a sender for the two set_level calls of its pulse: the next rising edge must
    /// start from a low line (one raised meanwhile by another sender would be no edge at all).
    std::array<std::atomic<bool>, kIntids> line{};
};

bool counted_spi(std::uint32_t intid) {
    return intid >= kFirstEdgeSpi && intid < kFirstLevelSpi;
}

/// A guest access from pCPU `p`'s vCPU; counts an access the model refused.
std::uint64_t guest_access(Pcpu& p, Device& dev, std::uint64_t offset, std::uint64_t data,
                           std::uint8_t size, bool write) {
    MmioAccess a = write ? mmio_write(offset, data, size) : mmio_read(offset, size);
    a.set_vcpu(p.vcpu);
    const MmioResult r = dev.mmio(a);
    if (r.kind() != MmioResult::Kind::kDone) {
        ++p.counts.mmio_errors;
        return 0;
    }
    return r.value();
}

/// The guest runs on pCPU `p` between a flush and a sync: it acknowledges pending LRs and
/// deactivates active ones (each with some probability, `all`: every one), as ICC_IAR1/ICC_DIR
/// would change ICH_LR<n>_EL2. Returns whether it changed anything.
template <class Rng>
bool guest_runs(Pcpu& p, Claims& claims, Rng& rng, bool all) {
    bool changed = false;
    for (std::uint32_t n = 0; n < p.lrs.count; ++n) {
        ListRegister& lr = p.lrs.lr[n];
        const LrState s = lr.state();
        if (s == LrState::kInvalid) {
            continue;
        }
        const std::uint32_t intid = lr.vintid();
        if (intid >= kIntids) {
            ++p.counts.phantom_intids;
            continue;
        }
        if (!all && rng() % 4 == 0) {
            continue;  // not this time
        }
        changed = true;
        if (s == LrState::kPending) {
            // Acknowledged: a sender may send it again from now on (it pends anew).
            lr.set_state(LrState::kActive);
            ++p.counts.acks;
            if (intid < 16) {
                ++p.counts.sgi_taken[intid];
                if (intid < kCountedSgis &&
                    !claims.sgi[p.vcpu][intid].exchange(false, std::memory_order_acq_rel)) {
                    ++p.counts.released_twice;
                }
            } else {
                ++p.counts.spi_taken[intid];
                if (counted_spi(intid) &&
                    !claims.spi[intid].exchange(false, std::memory_order_acq_rel)) {
                    ++p.counts.released_twice;
                }
            }
        } else {
            // Deactivated: active -> invalid, active and pending -> pending (taken next).
            lr.set_state(s == LrState::kPendingActive ? LrState::kPending : LrState::kInvalid);
            ++p.counts.deactivations;
        }
    }
    return changed;
}

template <class Rng>
void send_sgi(Pcpu& p, Claims& claims, Rng& rng) {
    const auto intid = static_cast<std::uint32_t>(rng() % 16);
    const std::uint64_t id_field = std::uint64_t{intid} << 24;
    if (intid < kCountedSgis) {
        // A TargetList of the other vCPUs whose SGI this sender claimed (one or several).
        std::uint32_t targets = 0;
        for (std::uint32_t t = 0; t < kVcpus; ++t) {
            if (t != p.vcpu && (rng() & 1) != 0 &&
                !claims.sgi[t][intid].exchange(true, std::memory_order_acq_rel)) {
                targets |= 1u << t;
                ++p.counts.sgi_sent[t][intid];
            }
        }
        if (targets != 0) {
            p.gic->sgi(p.vcpu, id_field | targets, true);
        }
        return;
    }
    if (rng() % 4 == 0) {
        // IRM = 1: every vCPU but the sender.
        for (std::uint32_t t = 0; t < kVcpus; ++t) {
            if (t != p.vcpu) {
                ++p.counts.sgi_sent[t][intid];
            }
        }
        p.gic->sgi(p.vcpu, id_field | 1ull << 40, true);
        return;
    }
    const auto target = static_cast<std::uint32_t>(rng() % kVcpus);  // itself too
    ++p.counts.sgi_sent[target][intid];
    p.gic->sgi(p.vcpu, id_field | 1u << target, true);
}

template <class Rng>
void drive_spi(Pcpu& p, Claims& claims, Rng& rng) {
    const auto intid = static_cast<std::uint32_t>(32 + rng() % kSpis);
    if (counted_spi(intid)) {
        // A rising edge (from a low line), while the last one has been taken.
        if (claims.line[intid].exchange(true, std::memory_order_acq_rel)) {
            return;
        }
        if (!claims.spi[intid].exchange(true, std::memory_order_acq_rel)) {
            ++p.counts.spi_sent[intid];
            p.gic->set_level(0, intid, true);
            p.gic->set_level(0, intid, false);
        }
        claims.line[intid].store(false, std::memory_order_release);
        return;
    }
    p.gic->set_level(0, intid, (rng() & 1) != 0);
}

/// A guest access between flush and sync: GICD_IROUTER (one 64-bit write or two halves) to a
/// random vCPU or IRM = 1, now and then a priority.
template <class Rng>
void guest_mmio(Pcpu& p, Rng& rng) {
    Device& dist = p.gic->distributor();
    const auto intid = static_cast<std::uint32_t>(32 + rng() % kSpis);
    const std::uint64_t irouter = gicd::kIrouter + 8ull * intid;
    const std::uint64_t route = rng() % 8 == 0 ? 1ull << 31 : rng() % kVcpus;
    switch (rng() % 8) {
        case 0:
            guest_access(p, dist, gicd::kIpriorityr + intid, 0x40 + (rng() % 8) * 0x10, 1, true);
            return;
        case 1:
            guest_access(p, dist, irouter, route & 0xffff'ffffu, 4, true);
            guest_access(p, dist, irouter + 4, 0, 4, true);
            break;
        case 2:
            if (guest_access(p, dist, irouter, 0, 8, false) >> 32 != 0) {
                ++p.counts.mmio_errors;  // Aff3 is RES0
            }
            return;
        default:
            guest_access(p, dist, irouter, route, 8, true);
            break;
    }
    ++p.counts.irouter_writes;
}

}  // namespace

TEST_CASE("smp: a shared vGIC driven from four pCPUs loses no interrupt and stays consistent",
          "[smp][vgic]") {
    VgicFixture f(kVcpus, kSpis);
    f.gic = std::make_unique<Vgic>(Vgic::Config{kVcpus, kSpis, true});
    Vgic& gic = *f.gic;
    std::atomic<std::uint64_t> notifications{0};
    gic.set_notify(&on_notify, &notifications);
    gic.set_access_hook(&access_hook, nullptr);

    // The guest's set-up, from the test's thread before any pCPU runs: every SGI and SPI group 1
    // and enabled with a spread of priorities, SPIs 32-63 edge-triggered, routed round-robin,
    // the redistributors awake.
    for (std::uint32_t v = 0; v < kVcpus; ++v) {
        f.rd_write(v, gicr::kWaker, 0);
        REQUIRE(f.rd_read(v, gicr::kWaker) == 0);
        for (std::uint32_t intid = 0; intid < 16; ++intid) {
            f.prepare(v, intid, static_cast<std::uint8_t>(0x40 + intid % 4 * 0x20));
        }
    }
    for (std::uint32_t intid = 32; intid < kIntids; ++intid) {
        f.prepare(0, intid, static_cast<std::uint8_t>(0x50 + intid % 5 * 0x18));
        if (counted_spi(intid)) {
            f.make_edge(intid);
        }
        f.dist_write(gicd::kIrouter + 8ull * intid, intid % kVcpus, 8);
    }
    REQUIRE((f.dist_read(gicd::kCtlr) & gicd::kCtlrGrp1) != 0);
    REQUIRE(gic.consistent());

    auto claims = std::make_unique<Claims>();
    std::array<Pcpu, kVcpus> pcpus{};
    std::array<std::atomic<bool>, kDrainRounds> busy{};
    std::atomic<bool> abort{false};
    SpinBarrier barrier(kVcpus);
    const Deadline deadline;

    run_pcpus(kVcpus, [&](std::uint32_t id) {
        Pcpu& p = pcpus[id];
        p.gic = &gic;
        p.vcpu = id;
        p.lrs.count = 4;
        t_pcpu = &p;
        std::mt19937 rng(2024 + id);
        const auto wait_all = [&] {
            if (!barrier.arrive_and_wait(deadline)) {
                abort.store(true);
            }
        };
        wait_all();
        for (std::uint32_t it = 0; it < kIterations && !abort.load(std::memory_order_relaxed);
             ++it) {
            if (it % 1024 == 0 && deadline.expired()) {
                abort.store(true);
                break;
            }
            // The run loop's entry and exit for this vCPU, with the guest in between.
            gic.flush(id, p.lrs);
            guest_runs(p, *claims, rng, false);
            if (rng() % 8 == 0) {
                guest_mmio(p, rng);  // an exit for a vGIC access (the hook syncs first)
            }
            gic.sync(id, p.lrs);
            // What this pCPU does besides: the guest's SGIs (trapped ICC_SGI1R_EL1 writes) and
            // a device's interrupt lines.
            if (rng() % 2 == 0) {
                send_sgi(p, *claims, rng);
            }
            if (rng() % 3 == 0) {
                drive_spi(p, *claims, rng);
            }
            if (it % 64 == 0) {
                std::this_thread::yield();
            }
        }

        // Quiescence: nothing is sent or routed any more; pCPU 0 lowers every level line.
        wait_all();
        if (id == 0) {
            for (std::uint32_t intid = kFirstLevelSpi; intid < kIntids; ++intid) {
                gic.set_level(0, intid, false);
            }
        }
        wait_all();
        // Each vCPU takes and completes everything it is given. A deactivation can hand a still
        // pending interrupt to another vCPU (its route), so the drain goes in rounds until a
        // round in which no pCPU found anything.
        for (std::uint32_t round = 0; round < kDrainRounds; ++round) {
            bool did = false;
            for (std::uint32_t step = 0; step < kDrainSteps; ++step) {
                gic.flush(id, p.lrs);
                const bool changed = guest_runs(p, *claims, rng, true);
                gic.sync(id, p.lrs);
                if (!changed && p.lrs.in_use == 0 && !gic.deliverable(id)) {
                    break;
                }
                did = true;
            }
            if (did) {
                busy[round].store(true, std::memory_order_relaxed);
            }
            wait_all();
            p.counts.drain_rounds = round + 1;
            if (!busy[round].load(std::memory_order_relaxed) || abort.load()) {
                break;
            }
        }
        t_pcpu = nullptr;
    });

    CHECK_FALSE(abort.load());
    CHECK(gic.consistent());
    CHECK(notifications.load() > 0);

    PcpuCounts total;
    std::array<std::array<std::uint64_t, 16>, kVcpus> sgi_taken{};
    for (std::uint32_t i = 0; i < kVcpus; ++i) {
        const PcpuCounts& c = pcpus[i].counts;
        INFO("pCPU " << i);
        CHECK(c.mmio_errors == 0);
        CHECK(c.foreign_hooks == 0);
        CHECK(c.phantom_intids == 0);
        CHECK(c.released_twice == 0);
        CHECK(c.drain_rounds < kDrainRounds);
        CHECK(pcpus[i].lrs.in_use == 0);
        sgi_taken[i] = c.sgi_taken;
        for (std::uint32_t t = 0; t < kVcpus; ++t) {
            for (std::uint32_t s = 0; s < 16; ++s) {
                total.sgi_sent[t][s] += c.sgi_sent[t][s];
            }
        }
        for (std::uint32_t intid = 0; intid < kIntids; ++intid) {
            total.spi_sent[intid] += c.spi_sent[intid];
            total.spi_taken[intid] += c.spi_taken[intid];
        }
        total.acks += c.acks;
        total.deactivations += c.deactivations;
        total.irouter_writes += c.irouter_writes;
    }
    CHECK(total.acks > 0);
    CHECK(total.irouter_writes > 0);
    // Every interrupt taken was completed: one deactivation per acknowledgement (one pended
    // again while active shows pending and active, is deactivated, then taken again).
    CHECK(total.deactivations == total.acks);

    for (std::uint32_t t = 0; t < kVcpus; ++t) {
        for (std::uint32_t s = 0; s < 16; ++s) {
            INFO("vCPU " << t << " SGI " << s << ": sent " << total.sgi_sent[t][s] << ", taken "
                         << sgi_taken[t][s]);
            if (s < kCountedSgis) {
                CHECK(sgi_taken[t][s] == total.sgi_sent[t][s]);
                CHECK_FALSE(claims->sgi[t][s].load());
            } else {
                CHECK(sgi_taken[t][s] <= total.sgi_sent[t][s]);
                CHECK((sgi_taken[t][s] > 0) == (total.sgi_sent[t][s] > 0));
            }
        }
    }
    for (std::uint32_t intid = kFirstEdgeSpi; intid < kFirstLevelSpi; ++intid) {
        INFO("SPI " << intid << ": sent " << total.spi_sent[intid] << ", taken "
                    << total.spi_taken[intid]);
        CHECK(total.spi_taken[intid] == total.spi_sent[intid]);
        CHECK(total.spi_sent[intid] > 0);
        CHECK_FALSE(claims->spi[intid].load());
    }
    // Quiescent: nothing pending, active or deliverable anywhere.
    for (std::uint32_t v = 0; v < kVcpus; ++v) {
        CHECK_FALSE(gic.deliverable(v));
        for (std::uint32_t intid = 0; intid < kIntids; ++intid) {
            INFO("vCPU " << v << " INTID " << intid);
            CHECK_FALSE(gic.pending(v, intid));
            CHECK_FALSE(gic.active(v, intid));
        }
    }
}
