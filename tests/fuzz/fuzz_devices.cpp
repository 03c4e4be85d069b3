// libFuzzer target: the devices built on the public device API alone (devices/: the virtio
// console and block device on their virtio-mmio transport, the PL031), each through the device test
// kit as its guest would drive it: register accesses of any offset, size and value, guest RAM (the
// rings, descriptors and buffers a virtio driver leaves there) written at will, time passing, guest
// resets, console input typed into the virtio console; a shortcut op sets a virtio queue up
// properly so the fuzzer reaches the queue code (the block device's requests run from its work
// timer: time passing serves them).
// Invariants: no fault (ASan/UBSan), and each device's interrupt line always equals the status
// its guest can read (virtio InterruptStatus != 0; PL031 RTCMIS != 0).
#include <string>

#include "corvisor/testing/device_kit.hpp"
#include "fuzz_input.hpp"

using namespace corvisor;
using corvisor::testing::DeviceKit;

namespace {

struct Target {
    std::string dts;
    std::uint32_t intid;
    std::uint64_t status_reg;  // what the line must follow
    std::uint64_t window;
};
/// A virtio-blk node with a read-write disk of 8 sectors.
std::string blk_node() {
    std::string dts = R"(disk@a000200 { compatible = "corvisor,virtio-blk", "virtio,mmio";
        reg = <0x0 0x0a000200 0x0 0x200>; interrupts = <0 17 4>; corvisor,image = [)";
    for (int i = 0; i < 8 * 512; ++i) {
        dts += "5a ";
    }
    return dts + "]; };";
}
const Target kTargets[] = {
    {R"(hvc@a000000 { compatible = "corvisor,virtio-console", "virtio,mmio";
        reg = <0x0 0x0a000000 0x0 0x200>; interrupts = <0 16 4>; };)",
     48, 0x060, 0x200},
    {R"(rtc@9010000 { compatible = "arm,pl031"; reg = <0x0 0x09010000 0x0 0x1000>;
        interrupts = <0 2 4>; };)",
     34, 0x018, 0x1000},
    {blk_node(), 49, 0x060, 0x200},
};
constexpr std::size_t kTargetCount = sizeof kTargets / sizeof kTargets[0];
constexpr std::size_t kRamSize = 64 * 1024;
constexpr std::uint64_t kRamBase = 0x40000000;

const std::string& blob(std::size_t which) {
    static const std::string blobs[kTargetCount] = {DeviceKit().compile(kTargets[0].dts),
                                                    DeviceKit().compile(kTargets[1].dts),
                                                    DeviceKit().compile(kTargets[2].dts)};
    return blobs[which];
}

/// A virtio driver's set-up of queue `q` with rings at RAM offsets from the input.
void setup_queue(DeviceKit& kit, fuzz::Input& in) {
    const std::uint32_t q = in.u8() % 3;
    const auto at = [&] { return static_cast<std::uint32_t>(kRamBase + (in.u16() % kRamSize)); };
    (void)kit.write(0x070, 0);
    (void)kit.write(0x070, 1 | 2);
    (void)kit.write(0x024, 1);
    (void)kit.write(0x020, 1);
    (void)kit.write(0x070, 1 | 2 | 8);
    (void)kit.write(0x030, q);
    (void)kit.write(0x038, 1u + in.u8() % 16);
    (void)kit.write(0x080, at());
    (void)kit.write(0x090, at());
    (void)kit.write(0x0a0, at());
    (void)kit.write(0x044, 1);
    (void)kit.write(0x070, 1 | 2 | 8 | 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::size_t which = in.u8() % kTargetCount;
    const Target& t = kTargets[which];
    DeviceKit::Options options;
    options.ram_base = kRamBase;
    options.ram_size = kRamSize;
    DeviceKit kit(options);
    if (blob(which).empty() || kit.create_from_blob(blob(which)) == nullptr) {
        fuzz::fail();  // the node itself is fine: a failure here is the kit's or the factory's
    }
    constexpr std::uint8_t kSizes[4] = {1, 2, 4, 8};
    for (int ops = 0; !in.empty() && ops < 512; ++ops) {
        const std::uint8_t op = in.u8();
        switch (op % 8) {
            case 0:
            case 1: {
                const std::uint8_t sz = kSizes[in.u8() % 4];
                std::uint64_t offset = in.u16() % t.window;
                offset &= ~std::uint64_t{sz - 1u};
                if (op % 8 == 0) {
                    (void)kit.read(offset, sz);
                } else {
                    (void)kit.write(offset, in.u64(), sz);
                }
                break;
            }
            case 2:
            case 3: {  // guest RAM: 8 bytes anywhere
                const std::uint64_t v = in.u64();
                std::span<std::byte> at = kit.ram_at(kRamBase + in.u16() % (kRamSize - 8), 8);
                std::memcpy(at.data(), &v, sizeof v);
                break;
            }
            case 4:
                kit.advance(in.u32());
                break;
            case 5:
                if (which != 1) {
                    setup_queue(kit, in);
                }
                break;
            case 6:
                (void)kit.write(0x050, in.u8() % 3);  // a notification (virtio QueueNotify)
                break;
            default:
                if (const std::uint8_t b = in.u8(); (b & 7) == 0) {
                    kit.reset_guest();
                } else {
                    // A byte typed into the device's console channel, if it has one (the
                    // virtio console's receive queue).
                    (void)kit.type(std::string(1, static_cast<char>(in.u8())));
                }
                break;
        }
        const std::optional<std::uint64_t> status = kit.read(t.status_reg);
        if (!status || (*status != 0) != kit.irq(t.intid).level) {
            fuzz::fail();
        }
    }
    return 0;
}
