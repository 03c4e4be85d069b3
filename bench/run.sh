#!/usr/bin/env bash
# Latency benchmarks (docs/benchmarks.md): the benchmark guest on corvisor and on bare QEMU,
# under -icount shift=4,sleep=off (one tick = one instruction, bit-for-bit repeatable), then the
# host microbenchmarks from the `bench` preset.
#
#   bench/run.sh BUILD_DIR [--smp N] [--mem SIZE] [--cpu MODEL] [--] [QEMU-OPTIONS...]
#     (normally via `./corvisor bench [--smp N] [--mem SIZE] [--cpu MODEL] [-- QEMU-OPTIONS...]`)
# --smp, --mem, --cpu: the machine, as QEMU's -smp, -m and -cpu (default 1, 1G, cortex-a57, the
# machine of the published figures), for every QEMU run and the boot DTBs' dumps alike; a -smp,
# -m or -cpu among QEMU-OPTIONS is refused (it would not reach the DTBs). QEMU-OPTIONS are
# appended to every QEMU run. (bench/boot_linux.sh keeps its own fixed machines.)
# Needs BUILD_DIR/el2 (corvisor.bin, guests/bench.bin) and BUILD_DIR/host (bench_report) built.
# Outputs go to BUILD_DIR/bench-results/, NOT BUILD_DIR/bench/, which is the `bench` preset's
# binaryDir: corvisor.log, corvisor-shared.log (wfi_wake with an idle guest sharing the pCPU) and
# bare.log (raw serial output), *.clean.log (no CR/NUL, no "[bench] "
# prefix), results.txt/json/svg, microbench.txt (appended per run) and microbench.json (last run).
# Environment: BENCH_MICRO=0 skips the microbenchmarks; BENCH_TIMEOUT (default 120 s) per QEMU run.
# Exit status: non-zero if a run fails or ends without `BENCH done`; a target that is OVER is
# reported in the summary line but does not fail the command.
set -euo pipefail

usage() { sed -n '6,7p' "$0" | sed 's/^#   //' >&2; exit 2; }
[ $# -ge 1 ] || usage
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$1" && pwd)
shift
out=$build/bench-results
timeout_s=${BENCH_TIMEOUT:-120}

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

smp=1 mem=1G cpu=cortex-a57
while [ $# -gt 0 ]; do
    case "$1" in
        --smp | --mem | --cpu)
            [ $# -ge 2 ] || usage
            case "$1" in --smp) smp=$2 ;; --mem) mem=$2 ;; --cpu) cpu=$2 ;; esac
            shift 2 ;;
        --) shift; break ;;
        *) break ;;
    esac
done
# The machine comes from the options above only: one given among the QEMU options would reach
# QEMU but not the boot DTBs' dumps.
for arg in "$@"; do
    case "$arg" in
        -smp | --smp | -m | --m | -cpu | --cpu)
            die "$arg among the QEMU options: give the machine as --smp N, --mem SIZE," \
                "--cpu MODEL (before the QEMU options), so that the boot DTBs describe it" ;;
    esac
done

# Targets from the issues (instructions per iteration, guest loop included).
targets=(--target hvc=100 --target mmio_read_uart=120 --target mmio_read_vgic=120
         --target ipi_self=200 --target vtimer_latency=120 --target wfi_wake=150
         --target ipi=300 --target mmio_read_plugin=122)
notes=(--note "hvc=on bare QEMU the HVC is answered by QEMU's own PSCI (no EL2 in the path); the ratio compares against that"
       --note "wfi_wake=corvisor: the vCPU is alone on its pCPU, so WFI is not trapped and waits in hardware; corvisor-shared: an idle guest shares the pCPU, so WFI traps and blocks the vCPU's coroutine until the timer interrupt wakes it through the executor"
       --note "mmio_read_plugin=a 32-bit load of the ID register of the device guide's example (examples/device), built out of tree into an image of its own (BUILD_DIR/bench-plugin); target: mmio_read_uart (117) + 5"
       --note "ipi=SGI from vCPU 0 to vCPU 1 until vCPU 1's handler runs. corvisor: the two vCPUs pinned on two pCPUs (a 2-CPU machine at least), vCPU 1 waiting in WFI in hardware: the model's SGI, the kick SGI to its pCPU, its list registers there; corvisor-shared: both on one pCPU (with an idle guest), vCPU 1's coroutine woken on the same executor; bare QEMU runs one CPU: skipped")

image=$build/el2/corvisor.bin
guest=$build/el2/guests/bench.bin
report=$build/host/tools/bench_report
for f in "$image" "$guest"; do
    [ -f "$f" ] || die "$f is missing: build the el2 preset (cmake --build --preset el2)"
done
[ -f "$build/host/build.ninja" ] || die "$build/host is not configured: cmake --preset host"
cmake --build "$build/host" --target bench_report >/dev/null ||
    die "building bench_report failed (cmake --build $build/host --target bench_report)"

mkdir -p "$out"
icount=(-icount shift=4,sleep=off)
qemu_common=(-cpu "$cpu" -m "$mem" -smp "$smp" -nographic -nic none "${icount[@]}")

# run_qemu SYSTEM QEMU-ARGS...: raw log to $out/SYSTEM.log, cleaned to $out/SYSTEM.clean.log.
run_qemu() {
    local system=$1
    shift
    local raw=$out/$system.log clean=$out/$system.clean.log rc=0
    say "$system: $*"
    timeout "$timeout_s" "$@" </dev/null >"$raw" 2>&1 || rc=$?
    # CR from the serial line, NULs the guest stores to UARTDR, corvisor's "[bench] " prefix.
    tr -d '\r\000' <"$raw" | sed 's/^\[bench\] //' >"$clean"
    if [ "$rc" -ne 0 ] || ! grep -qx 'BENCH done' "$clean"; then
        local why="QEMU exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${timeout_s}s"
        grep -qx 'BENCH done' "$clean" || why+=", no 'BENCH done'"
        say "FAILED: $system run ($why); last lines of $raw:"
        tail -n 25 "$clean" | sed 's/^/    /' >&2
        exit 1
    fi
}

"$root/tools/mkimage.sh" --cpu "$cpu" "$out/boot.dtb" "$root/bench/lists/bench.dts" \
    "$smp" "$mem" "$build/el2/guests"
run_qemu corvisor qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 \
    "${qemu_common[@]}" -kernel "$image" -dtb "$out/boot.dtb" "$@"
# ipi across pCPUs: the guest's two vCPUs pinned on pCPUs 0 and 1 (so at least a 2-CPU machine);
# its figure joins the corvisor column.
ipi_smp=$smp
[[ "$ipi_smp" =~ ^[0-9]+$ ]] && [ "$ipi_smp" -ge 2 ] || ipi_smp=2
"$root/tools/mkimage.sh" --cpu "$cpu" "$out/boot-ipi.dtb" "$root/bench/lists/bench_ipi.dts" \
    "$ipi_smp" "$mem" "$build/el2/guests"
run_qemu corvisor-ipi qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 \
    -cpu "$cpu" -m "$mem" -smp "$ipi_smp" -nographic -nic none "${icount[@]}" \
    -kernel "$image" -dtb "$out/boot-ipi.dtb" "$@"
grep -E '^BENCH (hist |skip )?name=ipi ' "$out/corvisor-ipi.clean.log" >"$out/ipi.lines" || true
# (The main run's one-vCPU guest skipped ipi: its skip line gives way to the figure.)
{ grep -vE '^BENCH (done$|skip name=ipi )' "$out/corvisor.clean.log"; cat "$out/ipi.lines"
  echo 'BENCH done'; } \
    >"$out/corvisor.merged.log"
mv "$out/corvisor.merged.log" "$out/corvisor.clean.log"
# mmio_read_plugin: an image with the example device built out of tree (CORVISOR_DEVICE_DIRS, as
# `./corvisor build --devices examples/device` would), kept in BUILD_DIR/bench-plugin; its figure
# joins the corvisor column (and its mmio_read_uart is checked against the main run's).
plugin=$build/bench-plugin
if [ ! -f "$plugin/build.ninja" ]; then
    cmake -S "$root" -B "$plugin" -G Ninja --toolchain "$root/cmake/aarch64-el2.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCORVISOR_DEVICE_DIRS="$root/examples/device" >/dev/null ||
        die "configuring $plugin failed"
fi
cmake --build "$plugin" --target corvisor_image guest_bench >/dev/null ||
    die "building the plugin image failed (cmake --build $plugin)"
"$root/tools/mkimage.sh" --cpu "$cpu" "$out/boot-plugin.dtb" "$root/bench/lists/bench_plugin.dts" \
    "$smp" "$mem" "$plugin/guests"
run_qemu corvisor-plugin qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 \
    "${qemu_common[@]}" -kernel "$plugin/corvisor.bin" -dtb "$out/boot-plugin.dtb" "$@"
grep -E '^BENCH (hist |skip )?name=mmio_read_plugin ' "$out/corvisor-plugin.clean.log" \
    >"$out/plugin.lines" || true
{ grep -vE '^BENCH (done$|skip name=mmio_read_plugin )' "$out/corvisor.clean.log"
  cat "$out/plugin.lines"; echo 'BENCH done'; } >"$out/corvisor.merged.log"
mv "$out/corvisor.merged.log" "$out/corvisor.clean.log"
# wfi_wake once more with the pCPU shared (an idle guest beside): WFI traps and blocks the vCPU's
# coroutine, the executor idles in WFI at EL2, the timer interrupt wakes the vCPU.
"$root/tools/mkimage.sh" --cpu "$cpu" "$out/boot-shared.dtb" \
    "$root/bench/lists/bench_shared.dts" "$smp" "$mem" "$build/el2/guests"
run_qemu corvisor-shared qemu-system-aarch64 -machine virt,virtualization=on,gic-version=3 \
    "${qemu_common[@]}" -kernel "$image" -dtb "$out/boot-shared.dtb" "$@"
# Bare: the guest at EL1, QEMU's own PSCI over HVC; same iteration count as bench.dts.
run_qemu bare qemu-system-aarch64 -machine virt,gic-version=3 \
    "${qemu_common[@]}" -kernel "$guest" -append "iters=10000" "$@"

echo
"$report" --system corvisor="$out/corvisor.clean.log" --system bare="$out/bare.clean.log" \
    --system corvisor-shared="$out/corvisor-shared.clean.log" \
    "${targets[@]}" "${notes[@]}" --mode "icount shift=4" --unit instructions \
    --txt "$out/results.txt" --json "$out/results.json" --svg "$out/results.svg"
echo
say "results: $out/results.{txt,json,svg}"

# boot_linux: Debian's Linux from QEMU's start to its /init marker (skipped without the files of
# tools/linux/fetch.sh; BENCH_LINUX=0 skips it).
if [ "${BENCH_LINUX:-1}" != 0 ]; then
    "$root/bench/boot_linux.sh" "$build" "$out"
    # virtio_blk: a 16 MiB dd with O_DIRECT 4 KiB reads, corvisor's disk vs QEMU's.
    "$root/bench/virtio_blk.sh" "$build" "$out"
fi

# Host microbenchmarks, from the `bench` preset (Release, no sanitizers): its binaryDir is fixed
# by CMakePresets.json at $root/build/bench, whatever BUILD_DIR is.
if [ "${BENCH_MICRO:-1}" != 0 ]; then
    micro_dir=$root/build/bench
    cd "$root"
    if [ ! -f "$micro_dir/build.ninja" ]; then
        cmake --preset bench >/dev/null
    fi
    cmake --build --preset bench --target corvisor_microbench >/dev/null ||
        die "building the microbenchmarks failed (cmake --build --preset bench)"
    say "microbenchmarks ($micro_dir/bench/corvisor_microbench)"
    {
        printf '\n== %s  %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
        "$micro_dir/bench/corvisor_microbench" --benchmark_min_time=0.05 \
            --benchmark_out="$out/microbench.json" --benchmark_out_format=json 2>&1
    } | tee -a "$out/microbench.txt"
    say "microbenchmarks appended to $out/microbench.txt"
fi
