#!/usr/bin/env bash
# Where the instructions of one trap go: boots the benchmark guest on corvisor under QEMU's
# gdbstub with only one figure selected, lets SKIP exits of the chosen kind pass (warm-up), then
# single-steps the next one from the lower-EL vector to its ERET and prints every EL2
# instruction, then a count per function. (How every trap-path figure in README.md was found.)
#
#   tools/trace_trap.sh BUILD_DIR FIGURE KIND FUNCTION [SKIP]
#
# FIGURE: a bench figure (hvc, mmio_read_uart, ipi_self, vtimer_latency, ...). KIND: sync or irq
# (the lower-EL AArch64 vector to start from). FUNCTION: a hypervisor function the exits of
# that figure call, whose first SKIP hits (default 300) are let pass (warm-up), e.g.
# corvisor::Vcpu::handle_irq_exit (timer figures), corvisor::Vcpu::handle_sysreg (ipi_self),
# corvisor::handle_psci_call (hvc). The trace is the next exit after that.
# QEMU runs without -icount here: the path is the same, and gdb 13 cannot resume QEMU's gdbstub
# from a breakpoint under -icount.
set -euo pipefail

[ $# -ge 4 ] || { sed -n '7p' "$0" | sed 's/^# *//' >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
figure=$2
kind=$3
at=$4
skip=${5:-300}
case $kind in
    sync) offset=0x400 ;;
    irq) offset=0x480 ;;
    *) echo "trace_trap: KIND is sync or irq" >&2; exit 2 ;;
esac
command -v gdb-multiarch >/dev/null || { echo "trace_trap: needs gdb-multiarch" >&2; exit 1; }
elf=$build/el2/src/el2/corvisor.elf
[ -f "$elf" ] || { echo "trace_trap: $elf is missing (build the el2 preset)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${qemu_pid:-}" ] && kill "$qemu_pid" 2>/dev/null || true' EXIT
sed "s/bootargs = \"[^\"]*\"/bootargs = \"only=$figure iters=2000\"/" \
    "$root/bench/lists/bench.dts" >"$work/list.dts"
"$root/tools/mkimage.sh" "$work/boot.dtb" "$work/list.dts" 1 1G "$build/el2/guests" >/dev/null 2>&1
port=$((20000 + RANDOM % 20000))
qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 -cpu cortex-a57 -m 1G -smp 1 \
    -nographic -nic none -kernel "$build/el2/corvisor.bin" -dtb "$work/boot.dtb" -S \
    -gdb "tcp::$port" </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
sleep 0.5

# The vector address comes from the ELF; ERET is 0xd69f03e0.
cat >"$work/trace.gdb" <<EOF
set pagination off
set confirm off
target remote :$port
break $at
ignore 1 $skip
continue
delete
break *(el2_vectors + $offset)
continue
delete
set \$n = 0
while \$n < 5000
  x/i \$pc
  if *(unsigned int*)\$pc == 0xd69f03e0
    set \$n = 100000
  else
    stepi
    set \$n = \$n + 1
  end
end
kill
quit
EOF
timeout 300 gdb-multiarch -nx -batch -x "$work/trace.gdb" "$elf" </dev/null >"$work/gdb.log" 2>&1 ||
    true
# x/i lines only ("=> 0x... <symbol+offset>:\tinstruction"), not stepi's own "0x... in f ()".
grep -E '^(=> )?0x[0-9a-f]+ <[^>]*>:' "$work/gdb.log" | sed 's/^=> *//' >"$work/trace.txt"
cat "$work/trace.txt"
echo
echo "instructions: $(wc -l <"$work/trace.txt") (vector to ERET, both included)"
# Per function: the <symbol+offset> each instruction's address shows.
sed -n 's/^0x[0-9a-f]* <\([^+>]*\).*/\1/p' "$work/trace.txt" | uniq -c |
    awk '{n[$2] += $1; if (!($2 in seen)) { seen[$2] = 1; order[++k] = $2 } }
         END { for (i = 1; i <= k; i++) printf "%6d  %s\n", n[order[i]], order[i] }' | c++filt
