#!/usr/bin/env bash
# virtio_blk (docs/benchmarks.md): a Linux guest reads a 16 MiB file 4 KiB at a time with
# O_DIRECT (`dd bs=4096 iflag=direct`: one virtio-blk request per read), under
# -icount shift=4,sleep=off, on corvisor (devices/virtio, bench/lists/linux_blk.dts) and on bare
# QEMU with QEMU's own virtio-blk-device, the same kernel, initramfs and disk image. The time is
# the guest's counter between two kernel-log markers around dd (62.5 MHz: one tick is one
# instruction, guest and hypervisor alike): virtual MB/s, and instructions per 4 KiB request
# (ticks / 4096 requests, dd's own work in the guest included, the same on both sides).
#   bench/virtio_blk.sh BUILD_DIR OUT_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1 out=$2
linux=$build/linux
timeout_s=${BENCH_LINUX_TIMEOUT:-400}
say() { printf 'bench: %s\n' "$*" >&2; }
for f in "$linux/Image" "$linux/initramfs.cpio" "$linux/bench-disk.img"; do
    [ -f "$f" ] || { say "virtio_blk skipped: no $f (tools/linux/fetch.sh $build)"; exit 0; }
done
mkdir -p "$out"
icount=(-icount shift=4,sleep=off)
bytes=16777216
requests=$((bytes / 4096))

# run LOG QEMU-ARGS...: "START END" (the markers' kernel timestamps), or "- -"; QEMU ends itself
# (the guest powers off) or is stopped after the timeout.
run() {
    local log=$1
    shift
    timeout "$timeout_s" "$@" </dev/null >"$log" 2>&1 || true
    local s e
    s=$(tr -d '\r' <"$log" | sed -n 's/.*\[ *\([0-9.]*\)\] corvisor-linux: blkbench start.*/\1/p')
    e=$(tr -d '\r' <"$log" | sed -n 's/.*\[ *\([0-9.]*\)\] corvisor-linux: blkbench end.*/\1/p')
    if [ -z "$s" ] || [ -z "$e" ] || ! grep -q "$requests+0 records out" "$log"; then
        say "virtio_blk: no complete run in $log"
        echo "- -"
        return 0
    fi
    echo "$s $e"
}

# figures START END: "MB/s instructions-per-request"
figures() {
    awk -v s="$1" -v e="$2" -v b="$bytes" -v r="$requests" \
        'BEGIN { d = e - s; printf "%.2f %.0f\n", b / d / 1e6, d * 62500000 / r }'
}

"$root/tools/mkimage.sh" "$out/linux_blk.dtb" "$root/bench/lists/linux_blk.dts" 1 1G \
    "$build/el2/guests" "$build"
say "virtio_blk: corvisor"
read -r cs ce < <(run "$out/virtio_blk_corvisor.log" qemu-system-aarch64 \
    -machine virt,virtualization=on,gic-version=3 -cpu cortex-a57 -m 1G -smp 1 -nographic \
    -nic none "${icount[@]}" -kernel "$build/el2/corvisor.bin" -dtb "$out/linux_blk.dtb")
say "virtio_blk: bare QEMU, virtio-blk-device"
read -r bs be < <(run "$out/virtio_blk_bare.log" qemu-system-aarch64 \
    -machine virt,gic-version=3 -cpu cortex-a57 -m 1G -smp 1 -nographic -nic none \
    "${icount[@]}" -kernel "$linux/Image" -initrd "$linux/initramfs.cpio" \
    -append "console=ttyAMA0 earlycon corvisor.blkbench" \
    -drive "if=none,id=disk,file=$linux/bench-disk.img,format=raw,readonly=on" \
    -device virtio-blk-device,drive=disk)

results=$out/virtio_blk.txt
{
    printf 'virtio_blk: dd of a 16 MiB file, 4 KiB O_DIRECT reads (%d requests), icount shift=4\n' \
        "$requests"
    printf '%-10s %14s %12s %22s\n' system "virtual s" "MB/s" "instructions/request"
    for sys in corvisor bare; do
        if [ "$sys" = corvisor ]; then s=$cs e=$ce; else s=$bs e=$be; fi
        if [ "$s" = - ]; then
            printf '%-10s %14s %12s %22s\n' "$sys" - - -
        else
            read -r mbs per < <(figures "$s" "$e")
            printf '%-10s %14s %12s %22s\n' "$sys" \
                "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.6f", e - s }')" "$mbs" "$per"
        fi
    done
} >"$results"
cat "$results"
