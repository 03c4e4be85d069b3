#!/usr/bin/env bash
# Build the boot DTB: QEMU's own `virt` DTB (dumped with the same machine options the run uses)
# merged with a guest list. Usage:
#   tools/mkimage.sh OUT.dtb GUESTS.dts SMP MEM [INCLUDE_DIR...]
# Guest images named with /incbin/ are searched in GUESTS.dts's folder and the INCLUDE_DIRs.
set -euo pipefail
out=$1 guests=$2 smp=$3 mem=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

qemu-system-aarch64 -machine "virt,virtualization=on,gic-version=3,dumpdtb=$work/virt.dtb" \
    -cpu cortex-a57 -smp "$smp" -m "$mem" -nographic -nic none >/dev/null
dtc -q -I dtb -O dts -o "$work/virt.dts" "$work/virt.dtb"
{
    cat "$work/virt.dts"
    # The guest list is a DTS fragment; its own /dts-v1/ header, if any, is dropped.
    grep -v '^[[:space:]]*/dts-v1/;' "$guests"
} > "$work/boot.dts"
incs=(-i "$(dirname "$(readlink -f "$guests")")")
for d in "$@"; do incs+=(-i "$d"); done
dtc -q -I dts -O dtb "${incs[@]}" -o "$out" "$work/boot.dts"
