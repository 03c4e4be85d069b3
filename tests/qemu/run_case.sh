#!/usr/bin/env bash
# One QEMU integration case: build a boot DTB from a guest list, boot corvisor under QEMU with a
# timeout, and check the console output and QEMU's exit status.
#   run_case.sh BUILD_DIR LIST.dts [--timeout S] [--exit N] [--expect TEXT]... [--count N TEXT]...
#               [--reject TEXT]... [--qemu OPT]... [--input FILE] [--input-after TEXT]
#               [--include DIR]... [--need FILE]... [--smp N] [--mem SIZE] [--cpu MODEL]
# --expect: TEXT appears on some line; --count: exactly N lines contain TEXT; --reject: no line
# contains TEXT. The timeout bounds a hang; it is no speed assertion (generous on purpose).
# --input: FILE is QEMU's stdin (the console input; default /dev/null). QEMU's -nographic console
# mux would take Ctrl-A (0x01) as its escape key, so with --input the escape key is Ctrl-T (-echr
# 0x14) and every byte of FILE reaches the machine's UART as written.
# --input-after: FILE is typed only once TEXT has appeared in the console output (as a person
# would type at a prompt); until then QEMU's stdin stays open and empty. Linux's PL011 driver
# discards what its UART received before the console was first opened, so input for a Linux
# shell waits for its marker line. The wait is bounded by --timeout too.
# --include: one more folder where the list's /incbin/ files are searched (after BUILD_DIR/guests).
# --need: FILE must exist before anything runs (a file the list embeds that the build does not
# make, such as the Linux kernel from tools/linux/fetch.sh).
# --smp, --mem, --cpu: the machine, as QEMU's -smp, -m and -cpu take them (default 1, 1G,
# cortex-a57), given to QEMU and to the boot DTB's dump alike (tools/mkimage.sh), so that the DTB
# describes the machine that boots. A -smp, -m or -cpu given with --qemu reaches QEMU only (the
# DTB keeps the machine of --smp/--mem/--cpu).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$1 list=$2
shift 2
timeout_s=60 want_exit=0
input=/dev/null input_after=""
smp=1 mem=1G cpu=cortex-a57
expects=() rejects=() counts=() qemu_extra=() includes=() needs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) timeout_s=$2; shift 2 ;;
        --exit) want_exit=$2; shift 2 ;;
        --expect) expects+=("$2"); shift 2 ;;
        --reject) rejects+=("$2"); shift 2 ;;
        --count) counts+=("$2" "$3"); shift 3 ;;
        --qemu) qemu_extra+=("$2"); shift 2 ;;
        --input) input=$2; qemu_extra+=(-echr 0x14); shift 2 ;;
        --input-after) input_after=$2; shift 2 ;;
        --include) includes+=("$2"); shift 2 ;;
        --need) needs+=("$2"); shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        *) echo "run_case: unknown option $1" >&2; exit 2 ;;
    esac
done

[ -r "$input" ] || { echo "run_case: cannot read input $input" >&2; exit 2; }
for f in "${needs[@]}"; do
    [ -r "$f" ] || { echo "run_case: missing $f (tools/linux/fetch.sh BUILD makes the Linux" \
                          "files; ./corvisor test runs it)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/tools/mkimage.sh" --cpu "$cpu" "$work/boot.dtb" "$list" "$smp" "$mem" "$build/guests" \
    "${includes[@]}" || exit 1

stdin=$input
if [ -n "$input_after" ]; then
    # A FIFO as QEMU's stdin, fed by a writer that waits for the text in QEMU's output.
    stdin=$work/stdin
    mkfifo "$stdin"
    : >"$work/out.raw"
    (
        for ((i = 0; i < timeout_s * 5; i++)); do
            if grep -qF -- "$input_after" "$work/out.raw"; then
                cat "$input"
                break
            fi
            sleep 0.2
        done
        # Keep the write end open (no EOF on the console) until QEMU has ended.
        while [ -e "$work/out.raw" ] && ! [ -e "$work/done" ]; do sleep 0.5; done
    ) >"$stdin" &
    writer=$!
fi
timeout --foreground -k 5 "$timeout_s" qemu-system-aarch64 \
    -machine virt,virtualization=on,gic-version=3 -cpu "$cpu" -m "$mem" -smp "$smp" -nographic \
    -nic none -kernel "$build/corvisor.bin" -dtb "$work/boot.dtb" "${qemu_extra[@]}" \
    <"$stdin" >"$work/out.raw" 2>&1
status=$?
if [ -n "$input_after" ]; then
    touch "$work/done"
    wait "$writer"
fi
tr -d '\r' <"$work/out.raw" >"$work/out"
cat "$work/out"

fail=0
if [ "$status" -ne "$want_exit" ]; then
    echo "FAIL: QEMU exit status $status, expected $want_exit (124 = timeout)"
    fail=1
fi
for e in "${expects[@]}"; do
    grep -qF -- "$e" "$work/out" || { echo "FAIL: missing: $e"; fail=1; }
done
for r in "${rejects[@]}"; do
    if grep -qF -- "$r" "$work/out"; then echo "FAIL: unexpected: $r"; fail=1; fi
done
for ((i = 0; i < ${#counts[@]}; i += 2)); do
    n=$(grep -cF -- "${counts[i + 1]}" "$work/out")
    [ "$n" -eq "${counts[i]}" ] || {
        echo "FAIL: '${counts[i + 1]}' seen $n times, expected ${counts[i]}"; fail=1; }
done
exit $fail
