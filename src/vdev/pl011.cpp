#include "vdev/pl011.hpp"

#include <new>
#include <string_view>

namespace corvisor {

namespace {

// Register offsets with side effects or computed values (DDI 0183, Summary of registers). The
// plain read/write registers are in Pl011::kPlainRegisters below.
enum class Reg : std::uint64_t {
    kDr = 0x000,
    kRsrEcr = 0x004,
    kFr = 0x018,
    kRis = 0x03C,
    kMis = 0x040,
    kIcr = 0x044,
};

// UARTPeriphID0-3 then UARTPCellID0-3 at 0xFE0-0xFFC (DDI 0183, Peripheral/PrimeCell ID
// registers). Linux's AMBA bus matches part 0x011, designer 0x41 ('A') against these before it
// binds amba-pl011; revision 1 matches what QEMU's PL011 reports.
constexpr std::uint64_t kIdBase = 0xFE0;
constexpr std::array<std::uint8_t, 8> kIdRegisters = {0x11, 0x10, 0x14, 0x00,
                                                      0x0D, 0xF0, 0x05, 0xB1};

// UARTDR: error flag attached to a received character.
constexpr std::uint32_t kDrOe = 1u << 11;
// UARTRSR: overrun.
constexpr std::uint32_t kRsrOe = 1u << 3;
// UARTFR.
constexpr std::uint32_t kFrRxfe = 1u << 4;
constexpr std::uint32_t kFrRxff = 1u << 6;
constexpr std::uint32_t kFrTxfe = 1u << 7;
// UARTLCR_H.
constexpr std::uint32_t kLcrHFen = 1u << 4;
// UARTCR. (UARTEN, bit 0, is kept as written: neither direction waits for it.)
constexpr std::uint32_t kCrRxe = 1u << 9;
// Interrupt bits, shared by UARTIMSC, UARTRIS, UARTMIS and UARTICR.
constexpr std::uint32_t kIntRx = 1u << 4;
constexpr std::uint32_t kIntTx = 1u << 5;
constexpr std::uint32_t kIntRt = 1u << 6;
constexpr std::uint32_t kIntOe = 1u << 10;
// UARTIFLS.RXIFLSEL, bits [5:3]: the receive trigger level in eighths of the FIFO (1/8, 1/4, 1/2,
// 3/4, 7/8). Encodings 5-7 are reserved; they behave as the reset setting, 1/2.
constexpr std::array<std::uint8_t, 8> kRxTriggerEighths = {1, 2, 4, 6, 7, 4, 4, 4};

}  // namespace

// Reset values and implemented bits from DDI 0183, Summary of registers and the register
// descriptions. CR bits [6:3] are reserved.
const std::array<Pl011::PlainRegister, 8> Pl011::kPlainRegisters = {{
    {0x020, 0x0000, 0x00FF, &Pl011::ilpr_},   // UARTILPR
    {0x024, 0x0000, 0xFFFF, &Pl011::ibrd_},   // UARTIBRD
    {0x028, 0x0000, 0x003F, &Pl011::fbrd_},   // UARTFBRD
    {0x02C, 0x0000, 0x00FF, &Pl011::lcr_h_},  // UARTLCR_H
    {0x030, 0x0300, 0xFF87, &Pl011::cr_},     // UARTCR: TXE | RXE
    {0x034, 0x0012, 0x003F, &Pl011::ifls_},   // UARTIFLS: both trigger levels 1/2
    {0x038, 0x0000, 0x07FF, &Pl011::imsc_},   // UARTIMSC
    {0x048, 0x0000, 0x0007, &Pl011::dmacr_},  // UARTDMACR: stored; there is no DMA to request
}};

const Pl011::PlainRegister* Pl011::find_plain(std::uint64_t offset) {
    for (const PlainRegister& r : kPlainRegisters) {
        if (r.offset == offset) {
            return &r;
        }
    }
    return nullptr;
}

Pl011::Pl011(DeviceHost& host, IrqLine irq) : host_(host), irq_(irq) {
    load_reset_values();
}

void Pl011::load_reset_values() {
    for (const PlainRegister& r : kPlainRegisters) {
        this->*r.field = r.reset;
    }
    // The transmit FIFO is empty, so at or below any trigger level: UARTTXINTR is asserted from
    // reset (DDI 0183, UARTTXINTR), masked until the guest sets TXIM.
    ris_ = kIntTx;
    rsr_ = 0;
    rx_head_ = 0;
    rx_count_ = 0;
    rx_overrun_pending_ = false;
    update_flags();
}

void Pl011::reset() {
    if (line_len_ > 0) {
        flush_line();
    }
    load_reset_values();
    irq_.set((ris_ & imsc_) != 0);
}

MmioResult Pl011::mmio(MmioAccess access) {
    // Drivers poll FR and feed DR a byte at a time: those two word accesses skip the generic
    // decode (this is the trap path, and this function stays a leaf for the FR poll).
    if (access.is(static_cast<std::uint64_t>(Reg::kFr), 4, false)) {
        return MmioResult::done(fr_);
    }
    if (access.is(static_cast<std::uint64_t>(Reg::kDr), 4, true)) {
        transmit(static_cast<std::uint8_t>(access.data() & 0xFFu));
        return MmioResult::done();
    }
    return mmio_generic(access);
}

MmioResult Pl011::mmio_generic(MmioAccess access) {
    // A 32-bit APB slave: byte, halfword and word accesses only (earlycon uses byte stores to DR
    // and word loads of FR), each inside one register.
    if ((access.size() != 1 && access.size() != 2 && access.size() != 4) ||
        (access.offset() & (access.size() - 1u)) != 0) {
        return MmioResult::abort();
    }
    const std::uint64_t word = access.offset() & ~std::uint64_t{3};
    const unsigned shift = static_cast<unsigned>(access.offset() & 3) * 8;
    const std::uint32_t width_mask =
        access.size() == 4 ? 0xFFFF'FFFFu : (1u << (access.size() * 8u)) - 1u;
    if (access.write()) {
        const auto value = static_cast<std::uint32_t>(access.data() & width_mask) << shift;
        write_word(word, value, width_mask << shift);
        return MmioResult::done();
    }
    return MmioResult::done((read_word(word) >> shift) & width_mask);
}

std::uint32_t Pl011::read_word(std::uint64_t offset) {
    if (const PlainRegister* r = find_plain(offset)) {
        return this->*r->field;
    }
    switch (static_cast<Reg>(offset)) {
        case Reg::kDr:
            // Any load from the DR word pops, whatever its byte lane: an APB read is a whole word.
            return pop_rx();
        case Reg::kRsrEcr:
            return rsr_;
        case Reg::kFr:
            return flags();
        case Reg::kRis:
            return ris_;
        case Reg::kMis:
            return ris_ & imsc_;
        case Reg::kIcr:
            return 0;  // write-only
    }
    if (offset >= kIdBase && offset < kIdBase + 4 * kIdRegisters.size()) {
        return kIdRegisters[(offset - kIdBase) / 4];
    }
    return 0;  // reserved, test registers, and anything past the 4 KiB window: RAZ
}

void Pl011::write_word(std::uint64_t offset, std::uint32_t value, std::uint32_t lanes) {
    if (const PlainRegister* r = find_plain(offset)) {
        // A narrow store changes only its own bytes, as an APB4 write with PSTRB would.
        std::uint32_t& field = this->*r->field;
        field = ((field & ~lanes) | value) & r->writable;
        if (r->field == &Pl011::imsc_) {
            update_irq();
        }
        update_flags();  // LCR_H.FEN sizes the receive FIFO that FR reports on
        if (r->field == &Pl011::cr_ || r->field == &Pl011::lcr_h_) {
            host_.input_space();  // the receiver may just have been enabled, or grown a FIFO
        }
        return;
    }
    switch (static_cast<Reg>(offset)) {
        case Reg::kDr:
            // The character is bits [7:0]; a store to another byte lane of DR carries none.
            if ((lanes & 0xFFu) != 0) {
                transmit(static_cast<std::uint8_t>(value & 0xFFu));
            }
            return;
        case Reg::kRsrEcr:
            rsr_ = 0;  // UARTECR: any write clears the error flags
            return;
        case Reg::kIcr:
            ris_ &= ~value;
            update_irq();
            return;
        case Reg::kFr:
        case Reg::kRis:
        case Reg::kMis:
            return;  // read-only: WI
    }
    // Reserved offsets and the ID registers: WI.
}

void Pl011::update_flags() {
    fr_ = flags();
}

std::uint32_t Pl011::flags() const {
    // CTS, DSR, DCD and RI read as 0 (no modem lines). The transmit FIFO is always empty because
    // output leaves at once, so BUSY and TXFF are 0 and TXFE is 1.
    std::uint32_t fr = kFrTxfe;
    if (rx_count_ == 0) {
        fr |= kFrRxfe;
    }
    if (rx_count_ >= rx_capacity()) {
        fr |= kFrRxff;
    }
    return fr;
}

std::size_t Pl011::rx_capacity() const {
    // With LCR_H.FEN clear the FIFO is a one-character holding register (DDI 0183, UARTLCR_H).
    return (lcr_h_ & kLcrHFen) != 0 ? kRxFifoDepth : 1;
}

std::size_t Pl011::rx_trigger() const {
    if ((lcr_h_ & kLcrHFen) == 0) {
        return 1;
    }
    return kRxFifoDepth * kRxTriggerEighths[(ifls_ >> 3) & 7u] / 8;
}

bool Pl011::can_receive() const {
    return (cr_ & kCrRxe) != 0 && rx_count_ < rx_capacity();
}

bool Pl011::receive(std::uint8_t byte) {
    // Like transmit, reception does not wait for CR.UARTEN: software written for QEMU's virt
    // board (and QEMU's own PL011) receives with the reset value of CR (TXE|RXE). RXE still
    // gates it.
    if ((cr_ & kCrRxe) == 0) {
        return false;
    }
    if (rx_count_ >= rx_capacity()) {
        // Overrun (DDI 0183, UARTRSR and UARTDR): the FIFO keeps its contents, the new character
        // is lost, and the next character that fits carries DR.OE.
        rsr_ |= kRsrOe;
        ris_ |= kIntOe;
        rx_overrun_pending_ = true;
        update_irq();
        return false;
    }
    rx_fifo_[(rx_head_ + rx_count_) % kRxFifoDepth] =
        static_cast<std::uint16_t>(byte | (rx_overrun_pending_ ? kDrOe : 0u));
    rx_overrun_pending_ = false;
    ++rx_count_;
    update_flags();
    if (rx_count_ >= rx_trigger()) {
        ris_ |= kIntRx;
    }
    // The receive timeout fires when the FIFO holds data and the line stays idle for 32 bit
    // periods (DDI 0183, UARTRTINTR). This model has no bit clock and input arrives a byte at a
    // time, so every byte counts as followed by an idle line: the guest hears of it at once.
    ris_ |= kIntRt;
    update_irq();
    return true;
}

std::uint32_t Pl011::pop_rx() {
    if (rx_count_ == 0) {
        return 0;
    }
    const std::uint32_t entry = rx_fifo_[rx_head_];
    rx_head_ = (rx_head_ + 1) % kRxFifoDepth;
    --rx_count_;
    update_flags();
    // UARTRXINTR clears once the FIFO is below its trigger level, UARTRTINTR once it is empty.
    if (rx_count_ < rx_trigger()) {
        ris_ &= ~kIntRx;
    }
    if (rx_count_ == 0) {
        ris_ &= ~kIntRt;
    }
    update_irq();
    host_.input_space();
    return entry;
}

void Pl011::transmit(std::uint8_t byte) {
    // Transmission does not wait for CR.UARTEN/TXE: earlycon writes DR before anything has
    // enabled the UART (there is no firmware in front of the guest), as QEMU's PL011 allows too.
    // The FIFO drains at once, passing back through its trigger level, so TXRIS is set again by
    // every store; only ICR clears it (DDI 0183, UARTTXINTR).
    ris_ |= kIntTx;
    update_irq();

    if (byte == '\n') {
        flush_line();
        return;
    }
    // Guest output lands on the hypervisor's own terminal. Control characters are dropped, so a
    // guest cannot send escape sequences that move the cursor, rewrite what other guests or the
    // hypervisor printed, retitle the window or make the terminal answer into its input. Only TAB
    // passes; CR goes too, as the console ends its lines itself.
    if ((byte < 0x20 && byte != '\t') || byte == 0x7F) {
        return;
    }
    // U+0080..U+009F are the C1 controls (U+009B is CSI on terminals that honour C1 in UTF-8);
    // encoded they are C2 80..C2 9F, so drop the pair. Other bytes >= 0x80 are kept as UTF-8.
    if (byte >= 0x80 && byte <= 0x9F && line_len_ > 0 &&
        static_cast<std::uint8_t>(line_[line_len_ - 1]) == 0xC2) {
        --line_len_;
        return;
    }
    if (line_len_ == kLineCapacity) {
        flush_full_line();
    }
    line_[line_len_++] = static_cast<char>(byte);
    if (line_len_ == 1) [[unlikely]] {
        host_.console_partial_pending();  // a prompt shows up even if no newline follows
    }
}

void Pl011::flush_partial() {
    if (line_len_ > 0) {
        host_.console_partial(std::string_view(line_.data(), line_len_));
        line_len_ = 0;
    }
}

void Pl011::flush_line() {
    host_.console_line(std::string_view(line_.data(), line_len_));
    line_len_ = 0;
}

void Pl011::flush_full_line() {
    // Split before a UTF-8 sequence that is still incomplete at the end, so that no character is
    // cut in two; its bytes start the next line.
    std::size_t split = line_len_;
    for (std::size_t back = 1; back <= 3 && back <= line_len_; ++back) {
        const auto b = static_cast<std::uint8_t>(line_[line_len_ - back]);
        if ((b & 0xC0u) == 0x80u) {
            continue;  // continuation byte: keep looking for the lead byte
        }
        const std::size_t length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        if (length > back) {
            split = line_len_ - back;
        }
        break;
    }
    host_.console_line(std::string_view(line_.data(), split));
    const std::size_t rest = line_len_ - split;
    for (std::size_t i = 0; i < rest; ++i) {
        line_[i] = line_[split + i];
    }
    line_len_ = rest;
}

void Pl011::update_irq() {
    // UARTINTR is the OR of the masked interrupt status (DDI 0183, UARTINTR).
    const bool level = (ris_ & imsc_) != 0;
    if (level != irq_.level()) {
        irq_.set(level);
    }
}

Result<Device*> make_pl011(const DeviceNode& node, DeviceHost& host) {
    if (node.regs.size() != 1 || node.regs[0].size < Pl011::kWindowSize) {
        return Error::kInvalidArgument;
    }
    const IrqLine irq = node.interrupts.empty() ? IrqLine{} : host.irq_line(node.interrupts[0]);
    void* memory = host.allocate(sizeof(Pl011), alignof(Pl011));
    if (memory == nullptr) {
        return Error::kOutOfMemory;
    }
    return static_cast<Device*>(new (memory) Pl011(host, irq));
}

}  // namespace corvisor

// Linux binds a PL011 through its AMBA bus: a PrimeCell with both clock inputs.
CORVISOR_REGISTER_DEVICE_WITH("arm,pl011", corvisor::make_pl011,
                              (::corvisor::DeviceDtbNeeds{true, "uartclk apb_pclk"}));
