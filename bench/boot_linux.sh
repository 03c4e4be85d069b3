#!/usr/bin/env bash
# boot_linux (docs/benchmarks.md): Debian's Linux from QEMU's start to its /init marker, in
# virtual time under -icount shift=4,sleep=off (one instruction = 16 ns, guest and hypervisor
# alike), on corvisor and on bare QEMU, with 1 and 2 vCPUs. The marker goes through the kernel
# log, so its timestamp is the guest's counter: bare QEMU's counts from QEMU's start; corvisor's
# from the guest's creation (CNTVOFF_EL2), so corvisor's own boot before that is added from its
# log ("virtual counter origin", loglevel=debug; 62.5 MHz counter).
#   bench/boot_linux.sh BUILD_DIR OUT_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1 out=$2
linux=$build/linux
timeout_s=${BENCH_LINUX_TIMEOUT:-400}
say() { printf 'bench: %s\n' "$*" >&2; }
for f in "$linux/Image" "$linux/initramfs.cpio"; do
    [ -f "$f" ] || { say "boot_linux skipped: no $f (tools/linux/fetch.sh $build)"; exit 0; }
done
mkdir -p "$out"
icount=(-icount shift=4,sleep=off)

# run_to_marker LOG QEMU-ARGS...: the marker's kernel timestamp in seconds, QEMU stopped then.
run_to_marker() {
    local log=$1
    shift
    : >"$log"
    "$@" </dev/null >"$log" 2>&1 &
    local pid=$! waited=0
    until grep -q "corvisor-linux: boot marker" "$log"; do
        if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge "$((timeout_s * 2))" ]; then
            kill "$pid" 2>/dev/null || true
            say "boot_linux: no marker in $log"
            echo "-"
            return 0
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    tr -d '\r' <"$log" | sed -n 's/.*\[ *\([0-9.]*\)\] corvisor-linux: boot marker.*/\1/p' | head -1
}

results=$out/boot_linux.txt
{
    printf 'boot_linux: QEMU start to the /init marker, virtual seconds (icount shift=4)\n'
    printf '%-8s %12s %12s %8s\n' vcpus corvisor bare ratio
} >"$results"
for n in 1 2; do
    "$root/tools/mkimage.sh" "$out/linux$n.dtb" "$root/bench/lists/linux$n.dts" 1 1G \
        "$build/el2/guests" "$build"
    say "boot_linux: corvisor, $n vCPU(s)"
    c=$(run_to_marker "$out/boot_linux_corvisor$n.log" qemu-system-aarch64 \
        -machine virt,virtualization=on,gic-version=3 -cpu cortex-a57 -m 1G -smp 1 -nographic \
        -nic none "${icount[@]}" -kernel "$build/el2/corvisor.bin" -dtb "$out/linux$n.dtb" \
        -append loglevel=debug)
    origin=$(tr -d '\r' <"$out/boot_linux_corvisor$n.log" |
        sed -n 's/.*guest linux: virtual counter origin \([0-9]*\).*/\1/p' | head -1)
    if [ "$c" != - ] && [ -n "$origin" ]; then
        c=$(awk -v c="$c" -v o="$origin" 'BEGIN { printf "%.6f", c + o / 62500000 }')
    fi
    say "boot_linux: bare QEMU, $n vCPU(s)"
    b=$(run_to_marker "$out/boot_linux_bare$n.log" qemu-system-aarch64 \
        -machine virt,gic-version=3 -cpu cortex-a57 -m 1G -smp "$n" -nographic -nic none \
        "${icount[@]}" -kernel "$linux/Image" -initrd "$linux/initramfs.cpio" \
        -append "console=ttyAMA0 earlycon")
    ratio=-
    if [ "$c" != - ] && [ "$b" != - ]; then
        ratio=$(awk -v c="$c" -v b="$b" 'BEGIN { printf "%.3fx", c / b }')
    fi
    printf '%-8s %12s %12s %8s\n' "$n" "$c" "$b" "$ratio" >>"$results"
done
cat "$results"
