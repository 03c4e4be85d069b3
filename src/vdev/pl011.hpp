// vPL011: the ARM PrimeCell UART (PL011, ARM DDI 0183) as Linux's amba-pl011 driver and its
// earlycon use it. Output goes to the hypervisor console a line at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "corvisor/device.hpp"
#include "corvisor/result.hpp"

namespace corvisor {

class Pl011 final : public Device {
public:
    /// Receive FIFO depth of the r1p5 part (DDI 0183 r1p5, Functional overview: 32-entry FIFOs).
    static constexpr std::size_t kRxFifoDepth = 32;
    /// Longest console line; a longer run of output is split.
    static constexpr std::size_t kLineCapacity = 256;
    /// The register window (DDI 0183, Summary of registers: 4 KiB).
    static constexpr std::uint64_t kWindowSize = 0x1000;

    /// `irq` is the combined interrupt UARTINTR (an unconnected line if the node has none).
    Pl011(DeviceHost& host, IrqLine irq);

    std::string_view name() const override { return "pl011"; }
    MmioResult mmio(MmioAccess access) override;
    /// Back to the DDI 0183 reset values. A partial output line is flushed first, so that output
    /// written just before a guest reset is not lost.
    void reset() override;

    /// Console input seam: one byte arriving on the receive line. False if it was not taken: the
    /// receiver is disabled (CR.UARTEN or CR.RXE clear), or the FIFO was full, which is an overrun
    /// (RSR.OE, RIS.OERIS, and DR.OE on the next byte that fits), as on the wire.
    bool receive(std::uint8_t byte);
    /// Whether receive() would take a byte now; an input path polls this to hold bytes back
    /// instead of overrunning the FIFO (a virtual line can apply back-pressure; a wire cannot).
    bool can_receive() const;

    const IrqLine& irq() const { return irq_; }

    /// Hand the output line buffered so far (no newline yet: a prompt) to the console now.
    void flush_partial();

private:
    // A register that only stores what is written (no side effect on access).
    struct PlainRegister {
        std::uint64_t offset;
        std::uint32_t reset;
        std::uint32_t writable;  // implemented bits; the rest are reserved and read as zero
        std::uint32_t Pl011::*field;
    };
    static const std::array<PlainRegister, 8> kPlainRegisters;
    static const PlainRegister* find_plain(std::uint64_t offset);

    std::uint32_t read_word(std::uint64_t offset);
    void write_word(std::uint64_t offset, std::uint32_t value, std::uint32_t lanes);
    void load_reset_values();
    std::uint32_t flags() const;
    void update_flags();
    [[gnu::noinline]] MmioResult mmio_generic(MmioAccess access);
    std::uint32_t pop_rx();
    std::size_t rx_capacity() const;
    std::size_t rx_trigger() const;
    void transmit(std::uint8_t byte);
    void flush_line();
    void flush_full_line();
    void update_irq();

    DeviceHost& host_;
    IrqLine irq_;

    // Plain read/write registers (their reset values and widths are in the table in pl011.cpp).
    std::uint32_t ilpr_ = 0;
    std::uint32_t ibrd_ = 0;
    std::uint32_t fbrd_ = 0;
    std::uint32_t lcr_h_ = 0;
    std::uint32_t fr_ = 0;  // UARTFR, kept current: drivers poll it (this is the trap path)
    std::uint32_t cr_ = 0;
    std::uint32_t ifls_ = 0;
    std::uint32_t imsc_ = 0;
    std::uint32_t dmacr_ = 0;

    std::uint32_t ris_ = 0;  // raw interrupt status
    std::uint32_t rsr_ = 0;  // receive status (only OE can occur: the virtual line has no errors)

    // Receive FIFO: data in bits [7:0], DR error flags in bits [11:8] (DDI 0183, UARTDR).
    std::array<std::uint16_t, kRxFifoDepth> rx_fifo_{};
    std::size_t rx_head_ = 0;
    std::size_t rx_count_ = 0;
    bool rx_overrun_pending_ = false;

    std::array<char, kLineCapacity> line_{};
    std::size_t line_len_ = 0;
};

/// Factory for "arm,pl011": exactly one `reg` region of at least 4 KiB, else kInvalidArgument;
/// the first interrupt, if any, becomes UARTINTR.
Result<Device*> make_pl011(const DeviceNode& node, DeviceHost& host);

}  // namespace corvisor
