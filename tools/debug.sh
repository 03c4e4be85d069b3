#!/usr/bin/env bash
# Boot corvisor under QEMU's gdbstub, stopped at the first instruction, and attach gdb-multiarch
# with the hypervisor's symbols and those of every guest of the list that is one of the
# project's own (build/el2/guests/NAME.elf beside the NAME.bin the list embeds).
#   tools/debug.sh EL2_BUILD_DIR GUESTS.dts [--batch GDB-COMMANDS] [--smp N] [--mem SIZE]
#                  [--cpu MODEL] [-- QEMU-OPTIONS...]
# (`./corvisor debug` builds first, then runs this.) The gdbstub listens on a free port of
# 127.0.0.1 only. The console (QEMU's serial) goes to EL2_BUILD_DIR/debug/console.log:
# `tail -f` it. --batch (or CORVISOR_GDB_BATCH=FILE): gdb runs FILE's commands after attaching,
# without a terminal, then quits. QEMU is killed when gdb exits. --smp, --mem, --cpu: the
# machine, as QEMU's -smp, -m and -cpu (default 1, 1G, cortex-a57), for QEMU and the boot DTB's
# dump alike; a -smp, -m or -cpu among QEMU-OPTIONS is refused (it would not reach the DTB).
set -euo pipefail

usage() { sed -n '5,6p' "$0" | sed 's/^#   //' >&2; exit 2; }
[ $# -ge 2 ] || usage
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
list=$2
shift 2
batch=${CORVISOR_GDB_BATCH:-}
qemu_smp=1 qemu_mem=1G qemu_cpu=cortex-a57  # the machine: QEMU's -smp, -m, -cpu
while [ $# -gt 0 ]; do
    case "$1" in
        --batch) [ $# -ge 2 ] || usage; batch=$2; shift 2 ;;
        --smp) [ $# -ge 2 ] || usage; qemu_smp=$2; shift 2 ;;
        --mem) [ $# -ge 2 ] || usage; qemu_mem=$2; shift 2 ;;
        --cpu) [ $# -ge 2 ] || usage; qemu_cpu=$2; shift 2 ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
for arg in "$@"; do
    case "$arg" in
        -smp | --smp | -m | --m | -cpu | --cpu)
            echo "debug: $arg among the QEMU options: give the machine as --smp N, --mem SIZE," \
                 "--cpu MODEL, so that the boot DTB describes it" >&2
            exit 2 ;;
    esac
done
[ -z "$batch" ] || [ -r "$batch" ] || { echo "debug: cannot read gdb commands $batch" >&2; exit 1; }
[ -f "$list" ] || { echo "debug: no such guest list: $list" >&2; exit 1; }
command -v gdb-multiarch >/dev/null || { echo "debug: needs gdb-multiarch" >&2; exit 1; }
# The hypervisor's ELF: build/el2/src/el2/corvisor.elf today; found wherever src/ puts it.
elf=$build/src/el2/corvisor.elf
[ -f "$elf" ] || elf=$(find "$build" -name corvisor.elf -not -path '*/CMakeFiles/*' | head -n 1)
guests=$build/guests
if [ ! -f "$elf" ] || [ ! -f "$build/corvisor.bin" ]; then
    echo "debug: corvisor.elf or corvisor.bin is missing in $build (build the el2 preset)" >&2
    exit 1
fi

out=$build/debug
mkdir -p "$out"
work=$(mktemp -d)
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP  # through the EXIT trap: QEMU never outlives this script

# /incbin/ files are searched in build/el2/guests, then in build/ (linux/Image and
# linux/initramfs.cpio of the default list, from tools/linux/fetch.sh).
"$root/tools/mkimage.sh" --cpu "$qemu_cpu" "$out/boot.dtb" "$list" "$qemu_smp" "$qemu_mem" \
    "$guests" "$(dirname "$build")"

# --- Guest symbols -------------------------------------------------------------------------
# A guest's image is the `kernel` property of its node under /chosen/corvisor. It is one of
# ours when its bytes equal build/el2/guests/NAME.bin and NAME.elf exists. Our guests are linked
# at 0 and are position-independent, so their symbols are the ELF's plus the load address, which
# is where the loader (src/vm/image.cpp, guest_layout) puts the image: an arm64 Image header
# ("ARM\x64" at 0x38, which our guests have) means the 2 MiB-aligned RAM base plus text_offset,
# or plus 2 MiB when text_offset is 0; a raw binary loads at the RAM base. The guest runs at EL1
# with its MMU off, so its virtual addresses (what gdb and QEMU's breakpoints see) are these IPAs.
hex_of() { od -An -v -tx1 "$1" | tr -d ' \n'; }
for bin in "$guests"/*.bin; do
    [ -f "${bin%.bin}.elf" ] && printf '%s %s\n' "$(hex_of "$bin")" "${bin%.bin}.elf"
done >"$work/ours"
: >"$work/symbols"
for bin in "$guests"/*.bin; do stat -c %s "$bin"; done >"$work/sizes"
for node in $(fdtget -l "$out/boot.dtb" /chosen/corvisor 2>/dev/null); do
    path=/chosen/corvisor/$node
    fdtget -t bx "$out/boot.dtb" "$path" kernel >"$work/kernel" 2>/dev/null || continue
    # A kernel of another size is none of ours (Linux's 30 MiB need not be turned into hex text).
    grep -qx "$(wc -w <"$work/kernel")" "$work/sizes" ||
        { echo "debug: guest $node: not one of build/el2/guests, no symbols"; continue; }
    # fdtget prints bytes as unpadded hex ("a 0 14"); pad to match od's.
    kernel=$(tr ' ' '\n' <"$work/kernel" | sed '/^$/d; s/^.$/0&/' | tr -d '\n')
    guest_elf=$(awk -v k="$kernel" '$1 == k { print $2; exit }' "$work/ours")
    [ -n "$guest_elf" ] || { echo "debug: guest $node: not one of build/el2/guests, no symbols"; continue; }
    read -r -a mem < <(fdtget -t u "$out/boot.dtb" "$path" memory)
    base=$(( (mem[0] << 32) | mem[1] ))
    bin=${guest_elf%.elf}.bin
    if [ "$(od -An -tx1 -j56 -N4 "$bin" | tr -d ' \n')" = 41524d64 ]; then
        text_offset=$(od -An -tu8 -j8 -N8 "$bin" | tr -d ' ')
        [ "$text_offset" -ne 0 ] || text_offset=$((2 << 20))
        load=$(( ((base + (2 << 20) - 1) & ~((2 << 20) - 1)) + text_offset ))
    else
        load=$base
    fi
    printf '%s 0x%x %s\n' "$guest_elf" "$load" "$node" >>"$work/symbols"
done

# The hypervisor runs where it is linked: its ELF's load segment, to warn about overlaps.
read -r hv_start hv_size < <(readelf -lW "$elf" | awk '$1 == "LOAD" { print $3, $6; exit }')
hv_end=$(( hv_start + hv_size ))

{
    echo "set confirm off"
    echo "set pagination off"
    # Several guests may run one image at one address: its symbols are added once, for all.
    awk '{ k = $1 " " $2; if (!(k in n)) { order[++c] = k; n[k] = $3 } else n[k] = n[k] "," $3 }
         END { for (i = 1; i <= c; i++) print order[i], n[order[i]] }' "$work/symbols" |
    while read -r guest_elf load nodes; do
        size=$(stat -c %s "${guest_elf%.elf}.bin")
        if (( load < hv_end && load + size > hv_start )); then
            echo "debug: warning: guest $nodes: image at $load overlaps the hypervisor's" \
                 "addresses: symbols there are ambiguous and a breakpoint also stops in the" \
                 "hypervisor (add 'if (\$cpsr & 0xc) == 4' for EL1 only, or give the guest" \
                 "RAM elsewhere)" >&2
        fi
        printf 'echo debug: guest %s: %s at %s\\n\n' "$nodes" "$(basename "$guest_elf")" "$load"
        echo "add-symbol-file $guest_elf -o $load"
    done
} >"$work/setup.gdb"

# --- QEMU on a free loopback port ----------------------------------------------------------
listening() {  # listening PORT: some socket listens on 127.0.0.1:PORT or 0.0.0.0:PORT
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
                      END { exit !f }' /proc/net/tcp
}
port=
for _ in 1 2 3 4 5; do
    try=$((20000 + RANDOM % 40000))
    listening "$try" && continue
    # -S: stopped before the first instruction. stdin is not the terminal (gdb has it).
    qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 -cpu "$qemu_cpu" \
        -m "$qemu_mem" -smp "$qemu_smp" -nographic -nic none -kernel "$build/corvisor.bin" \
        -dtb "$out/boot.dtb" -S -gdb "tcp:127.0.0.1:$try" "$@" </dev/null >"$out/console.log" 2>&1 &
    qemu_pid=$!
    # Wait for the gdbstub to listen; QEMU exits at once when the port was taken meanwhile.
    for _ in $(seq 100); do
        listening "$try" && { port=$try; break; }
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && break
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=
done
[ -n "$port" ] || { echo "debug: QEMU did not start its gdbstub:" >&2; cat "$out/console.log" >&2; exit 1; }
echo "target remote 127.0.0.1:$port" >>"$work/setup.gdb"
echo "debug: QEMU pid $qemu_pid, gdbstub 127.0.0.1:$port, console $out/console.log" >&2

if [ -n "$batch" ]; then
    gdb-multiarch -q -nx -batch -x "$work/setup.gdb" -x "$batch" "$elf" </dev/null
else
    # Ctrl-C belongs to gdb (it stops the target): this script only notes it and waits. (QEMU,
    # started in the background of a script, ignores SIGINT.)
    trap ':' INT
    gdb-multiarch -q -x "$work/setup.gdb" "$elf"
fi
