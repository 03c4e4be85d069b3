// libFuzzer target: the vGIC model (src/vgic) driven by a stream of operations as its guest and
// the hypervisor produce them: distributor and redistributor MMIO from any vCPU, SGIs, interrupt
// lines, and each vCPU's flush / guest acknowledge and deactivate / sync of its list registers.
// After every operation the model must agree with a recomputation from scratch (consistent())
// and every LR must hold an INTID the guest has.
#include "fuzz_input.hpp"
#include "vgic/vgic.hpp"

using namespace corvisor;

namespace {

constexpr std::uint32_t kVcpus = 4;
constexpr std::uint32_t kSpis = 64;

MmioAccess access(std::uint32_t vcpu, std::uint64_t offset, std::uint8_t size, bool write,
                  std::uint64_t data) {
    return MmioAccess::from_parts(MmioAccess::source_bits(0, vcpu), offset, size, write ? 1 : 0,
                                  data);
}

/// What a guest does with its LRs between two exits: acknowledge (pending -> active) and
/// deactivate (active -> invalid), as `how` says, LR by LR.
void play_guest(ListRegisterFile& lrs, std::uint8_t how) {
    for (std::uint32_t n = 0; n < lrs.count; ++n, how = static_cast<std::uint8_t>(how >> 2)) {
        ListRegister& lr = lrs.lr[n];
        switch (how & 3u) {
            case 1:
                if (lr.state() == LrState::kPending) {
                    lr.set_state(LrState::kActive);
                }
                break;
            case 2:
                if (lr.state() == LrState::kActive) {
                    lr.set_state(LrState::kInvalid);
                } else if (lr.state() == LrState::kPendingActive) {
                    lr.set_state(LrState::kPending);
                }
                break;
            case 3:
                if (lr.state() == LrState::kPending) {
                    lr.set_state(LrState::kInvalid);  // taken and completed at once
                }
                break;
            default:
                break;
        }
    }
}

void check_lrs(const ListRegisterFile& lrs) {
    for (std::uint32_t n = 0; n < lrs.count; ++n) {
        const ListRegister lr = lrs.lr[n];
        if (lr.state() != LrState::kInvalid && lr.vintid() >= 32 + kSpis) {
            fuzz::fail();  // an INTID the guest does not have
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    Vgic vgic(Vgic::Config{kVcpus, kSpis});
    ListRegisterFile lrs[kVcpus];
    constexpr std::uint8_t kSizes[4] = {1, 2, 4, 8};
    while (!in.empty()) {
        const std::uint8_t op = in.u8();
        const std::uint32_t vcpu = in.u8() % kVcpus;
        switch (op % 8) {
            case 0:
            case 1: {  // distributor / redistributor access (aligned, as the bus passes them)
                const bool dist = op % 8 == 0;
                const std::uint8_t sz = kSizes[in.u8() % 4];
                std::uint64_t offset = in.u32() % (dist ? kGicDistSize : kGicRedistStride * kVcpus);
                offset &= ~std::uint64_t{sz - 1u};
                const bool write = (in.u8() & 1) != 0;
                const std::uint64_t value = in.u64();
                Device& dev = dist ? vgic.distributor() : vgic.redistributors();
                (void)dev.mmio(access(vcpu, offset, sz, write, value));
                break;
            }
            case 2:
                vgic.sgi(vcpu, in.u64(), (in.u8() & 1) != 0);
                break;
            case 3:
                vgic.set_level(vcpu, in.u16() % 320, (in.u8() & 1) != 0);
                break;
            case 4:
                (void)vgic.flush(vcpu, lrs[vcpu]);
                check_lrs(lrs[vcpu]);
                break;
            case 5:
                play_guest(lrs[vcpu], in.u8());
                vgic.sync(vcpu, lrs[vcpu]);
                break;
            case 6:
                vgic.distributor().reset();
                break;
            default:
                (void)vgic.deliverable(vcpu);
                (void)vgic.pending(vcpu, in.u16() % 320);
                break;
        }
        if (!vgic.consistent()) {
            fuzz::fail();
        }
    }
    return 0;
}
