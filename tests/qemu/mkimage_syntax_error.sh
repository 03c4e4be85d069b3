#!/usr/bin/env bash
# A guest list with a syntax error: tools/mkimage.sh fails, and dtc's message names the list's
# own file and the error's LINE.COL there.
#   mkimage_syntax_error.sh BUILD_DIR LIST.dts LINE.COL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$1 list=$2 where=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
"$root/tools/mkimage.sh" "$work/boot.dtb" "$list" 1 1G "$build/guests" >"$work/out" 2>&1 ||
    status=$?
cat "$work/out"
fail=0
if [ "$status" -eq 0 ]; then echo "FAIL: mkimage exited 0 on a broken list"; fail=1; fi
# dtc's form: "Error: /abs/path/LIST.dts:LINE.COL-COL syntax error".
want="$(readlink -f "$list"):$where"
grep -qF -- "$want" "$work/out" || { echo "FAIL: missing: $want"; fail=1; }
grep -qF -- "syntax error" "$work/out" || { echo "FAIL: missing: syntax error"; fail=1; }
exit $fail
