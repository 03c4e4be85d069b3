#!/usr/bin/env bash
# tools/debug.sh (`./corvisor debug`) driven by a gdb command file: a breakpoint in a guest
# function, then one in the vPL011's MMIO entry point, each hit and checked on gdb's output.
#   debug_gdb.sh BUILD_DIR LIST.dts
# LIST's one guest runs hello.bin with RAM at 0x48000000, so its image is at 0x48200000.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$1 list=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mmio="corvisor::Pl011::mmio(corvisor::MmioAccess)"
cat >"$work/cmds.gdb" <<GDB
info functions Pl011::mmio[(]
# The guest: its C entry, called from start.S with x0 = its DTB (at its RAM base).
break *guest_main
continue
info symbol \$pc
printf "guest x0=%#lx\\n", \$x0
printf "guest el=%d\\n", (\$cpsr >> 2) & 3
delete
# The hypervisor: the vPL011's MMIO handler, at its link address, entered at EL2.
break *'$mmio'
continue
info symbol \$pc
printf "mmio pc-is-symbol=%d\\n", \$pc == (long)&'$mmio'
printf "mmio el=%d\\n", (\$cpsr >> 2) & 3
kill
GDB

# debug.sh kills QEMU on any exit; timeout bounds a hang (it signals the whole process group).
status=0
timeout -k 5 90 "$root/tools/debug.sh" "$build" "$list" --batch "$work/cmds.gdb" \
    >"$work/out" 2>&1 || status=$?
cat "$work/out"
echo "--- console (build/debug/console.log)"
cat "$build/debug/console.log" || true

fail=0
[ "$status" -eq 0 ] || { echo "FAIL: debug.sh exit status $status (124 = timeout)"; fail=1; }
expect() { grep -qF -- "$1" "$work/out" || { echo "FAIL: missing: $1"; fail=1; }; }
expect_re() { grep -qE -- "$1" "$work/out" || { echo "FAIL: missing (regex): $1"; fail=1; }; }
# The load address debug.sh worked out is where the loader put the image (its console line).
expect "debug: guest dbg: hello.elf at 0x48200000"
grep -qF "entry 0x48200000" "$build/debug/console.log" ||
    { echo "FAIL: the console does not say entry 0x48200000"; fail=1; }
# The guest breakpoint: hit, shown by name, at EL1, x0 = the guest's DTB.
expect_re '^Breakpoint 1, 0x0*48201[0-9a-f]{3} in guest_main \(\)'
expect_re '^guest_main in section \.text of .*/hello\.elf$'
expect "guest x0=0x48000000"
expect "guest el=1"
# The hypervisor breakpoint: hit at EL2 with pc = the address `info functions` gives.
addr=$(sed -n "s/^\(0x[0-9a-f]*\)  corvisor::Pl011::mmio(corvisor::MmioAccess)\$/\1/p" "$work/out")
[ -n "$addr" ] || { echo "FAIL: info functions did not list $mmio"; fail=1; }
expect "Breakpoint 2, ${addr:-?} in $mmio ()"
expect "mmio pc-is-symbol=1"
expect "mmio el=2"
expect "[Inferior 1 (process 1) killed]"
# QEMU is gone with gdb.
qemu_pid=$(sed -n 's/^debug: QEMU pid \([0-9]*\),.*/\1/p' "$work/out")
if [ -z "$qemu_pid" ]; then echo "FAIL: no QEMU pid"; fail=1
elif kill -0 "$qemu_pid" 2>/dev/null; then echo "FAIL: QEMU $qemu_pid outlived gdb"; kill "$qemu_pid"; fail=1; fi
exit $fail
