#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz (the `fuzz` preset): build them, then run TARGET (or all)
# for SECONDS each on its corpus: the seeds checked in under tests/fuzz/corpus/TARGET/ (for
# guest_list and guest_dtb: those of guest_list and every guest list of the repository compiled
# to a DTB, its /incbin/ images replaced by four bytes) plus what earlier runs found, kept in BUILD_DIR/fuzz/corpus/TARGET/. A crash,
# a leak or a broken invariant fails the command and leaves the input in BUILD_DIR/fuzz/artifacts/.
#   tools/fuzz.sh BUILD_DIR [TARGET|all] [SECONDS]     (./corvisor fuzz [TARGET] [SECONDS])
# The run time of each target is added up in BUILD_DIR/fuzz/seconds.txt.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { sed -n '7p' "$0" | sed 's/^# *//' >&2; exit 2; }
build=$1 which=${2:-all} seconds=${3:-60}
targets=(guest_list guest_dtb vgic pl011 stage2 psci vcpu devices)
if [ "$which" != all ]; then
    printf '%s\n' "${targets[@]}" | grep -qx -- "$which" ||
        { echo "fuzz: no target '$which' (${targets[*]})" >&2; exit 2; }
    targets=("$which")
fi
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] ||
    { echo "fuzz: SECONDS is a whole number >= 1, not '$seconds'" >&2; exit 2; }

cd "$root"
if [ ! -f "$build/fuzz/build.ninja" ]; then
    cmake --preset fuzz >/dev/null
fi
# Quiet when it builds; the compiler's messages when it does not (set -e would end the script
# with no word of why).
if ! log=$(cmake --build --preset fuzz 2>&1); then
    printf '%s\n' "$log" >&2
    echo "fuzz: the fuzz preset does not build (above)" >&2
    exit 1
fi

out=$build/fuzz
mkdir -p "$out/artifacts"
# guest_list seeds: the repository's guest lists as DTBs, each image four bytes.
seeds_gl=$out/seeds/guest_list
mkdir -p "$seeds_gl"
for list in guests/lists/*.dts tests/qemu/lists/*.dts tests/fuzz/corpus/guest_list/*.dts; do
    [ -f "$list" ] || continue
    name=$(basename "$list" .dts)
    sed 's#/incbin/("[^"]*")#[de ad be ef]#g' "$list" |
        dtc -q -I dts -O dtb -o "$seeds_gl/$name.dtb" - 2>/dev/null || rm -f "$seeds_gl/$name.dtb"
done

fail=0
for t in "${targets[@]}"; do
    corpus=$out/corpus/$t
    mkdir -p "$corpus"
    seeds=("$root/tests/fuzz/corpus/$t")
    case "$t" in guest_list | guest_dtb) seeds+=("$seeds_gl" "$root/tests/fuzz/corpus/guest_list") ;; esac
    existing=()
    for s in "${seeds[@]}"; do [ -d "$s" ] && existing+=("$s"); done
    echo "fuzz: $t for ${seconds}s"
    if ! "$out/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$corpus" "${existing[@]}" \
            >"$out/$t.log" 2>&1; then
        echo "fuzz: $t FAILED (input in $out/artifacts/; log $out/$t.log):" >&2
        grep -E 'ERROR|SUMMARY|Test unit written' "$out/$t.log" | head -5 >&2
        fail=1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$out/$t.log" | sed "s/^/fuzz: $t: /"
    total=$(awk -v t="$t" '$1 == t { s += $2 } END { print s + 0 }' "$out/seconds.txt" 2>/dev/null ||
            echo 0)
    { grep -v "^$t " "$out/seconds.txt" 2>/dev/null || true; echo "$t $((total + seconds))"; } \
        >"$out/seconds.txt.new"
    mv "$out/seconds.txt.new" "$out/seconds.txt"
done
exit $fail
