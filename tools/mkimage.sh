#!/usr/bin/env bash
# Build the boot DTB: QEMU's own `virt` DTB (dumped with the same machine options the run uses)
# merged with a guest list. Usage:
#   tools/mkimage.sh [--cpu MODEL] OUT.dtb GUESTS.dts SMP MEM [INCLUDE_DIR...]
# SMP, MEM and MODEL are the values of the run's QEMU -smp, -m and -cpu (MODEL: cortex-a57 when
# not given); a caller passes exactly what it gives QEMU, so that the DTB describes the machine
# that boots (its /cpus: one node per CPU). Guest images named with /incbin/ are searched in
# GUESTS.dts's folder and the INCLUDE_DIRs.
#
# dtc reads one source, whose single /dts-v1/ header must come first; an /include/d file cannot
# carry a second one (dtc: "syntax error" at the included /dts-v1/). So the source dtc compiles
# is: the header, QEMU's tree without its header, then the guest list with its header blanked
# out (same length, so columns hold), preceded by a `# 1 "PATH"` line marker. dtc honours line
# markers (as in cpp output), so an error in the list is reported as PATH:LINE.COL of the
# user's own file, e.g. "Error: /abs/guests.dts:12.5-6 syntax error".
set -euo pipefail
usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }
cpu=cortex-a57
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) [ $# -ge 2 ] || usage; cpu=$2; shift 2 ;;
        --cpu=*) cpu=${1#--cpu=}; shift ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -ge 4 ] || usage
out=$1 guests=$2 smp=$3 mem=$4
shift 4
[ -r "$guests" ] || { echo "mkimage: cannot read guest list $guests" >&2; exit 1; }
guests_abs=$(readlink -f "$guests")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

qemu-system-aarch64 -machine "virt,virtualization=on,gic-version=3,dumpdtb=$work/virt.dtb" \
    -cpu "$cpu" -smp "$smp" -m "$mem" -nographic -nic none >/dev/null 2>"$work/qemu.err" ||
    { cat "$work/qemu.err" >&2; exit 1; }  # (its "dtb dumped" note is noise otherwise)
dtc -q -I dtb -O dts -o "$work/virt.dts" "$work/virt.dtb"
{
    echo '/dts-v1/;'
    printf '# 2 "%s"\n' "qemu-virt.dts"
    # dtc's dump starts with the header line; drop it.
    sed '1{/^\/dts-v1\/;[[:space:]]*$/d}' "$work/virt.dts"
    printf '# 1 "%s"\n' "$guests_abs"
    # The list's own header(s): replaced by as many spaces.
    sed 's#^\([[:space:]]*\)/dts-v1/;#\1         #' "$guests"
} >"$work/boot.dts"
# /incbin/ and /include/ resolve against the folder of the file dtc opened (the work folder),
# then the -i dirs: the list's folder first, as if dtc had opened the list itself.
incs=(-i "$(dirname "$guests_abs")")
for d in "$@"; do incs+=(-i "$d"); done
dtc -q -I dts -O dtb "${incs[@]}" -o "$out" "$work/boot.dts"
