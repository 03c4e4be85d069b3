// Software-generated interrupts: a guest's write of ICC_SGI1R_EL1 (IHI 0069H, ICC_SGI1R_EL1;
// ICC_SGI0R_EL1 and ICC_ASGI1R_EL1 share the layout), trapped and handed to Vgic::sgi.
#include "vgic/vgic.hpp"

namespace corvisor {

namespace {

// ICC_SGI1R_EL1 fields.
struct SgiRequest {
    std::uint32_t target_list;  ///< [15:0]: Aff0 = RS * 16 + bit
    std::uint32_t intid;        ///< [27:24]
    std::uint32_t range;        ///< RS, [47:44]
    bool broadcast;             ///< IRM, [40]: every PE but the sender
    bool upper_affinity_zero;   ///< Aff1 [23:16], Aff2 [39:32], Aff3 [55:48] all 0

    static constexpr SgiRequest decode(std::uint64_t v) {
        return SgiRequest{
            .target_list = static_cast<std::uint32_t>(v & 0xffff),
            .intid = static_cast<std::uint32_t>((v >> 24) & 0xf),
            .range = static_cast<std::uint32_t>((v >> 44) & 0xf),
            .broadcast = ((v >> 40) & 1) != 0,
            .upper_affinity_zero = (v & 0x00ff'00ff'00ff'0000ull) == 0,
        };
    }
};

}  // namespace

void Vgic::sgi(std::uint32_t sender, std::uint64_t icc_sgi1r) {
    const SgiRequest req = SgiRequest::decode(icc_sgi1r);
    for (std::uint32_t v = 0; v < config_.vcpus; ++v) {
        bool target = false;
        if (req.broadcast) {
            target = v != sender;
        } else if (req.upper_affinity_zero && v / 16 == req.range) {
            // vCPU v has affinity 0.0.0.v: it is named by bit v % 16 of the range v / 16.
            target = ((req.target_list >> (v % 16)) & 1) != 0;
        }
        if (target) {
            vgic::Irq& irq = private_[v][req.intid];
            irq.pend();
            refresh(irq);
        }
    }
}

}  // namespace corvisor
