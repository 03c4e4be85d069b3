#!/usr/bin/env bash
# Runs clang-tidy (the repository's .clang-tidy) on the project translation units of a build's
# compile_commands.json: those under src/, tests/, tools/, bench/ and devices/; project headers are
# checked through them (HeaderFilterRegex).
#   tools/tidy.sh [BUILD_DIR]      (default build/host)
# Exits 1 when clang-tidy reports anything (WarningsAsErrors: '*'), printing its findings.
# Two jobs at a time (CORVISOR_TIDY_JOBS overrides). The EL2 build is not tidied: it is a GCC
# cross build whose flags clang's parser does not take (docs/development.md, clang-tidy).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -le 1 ] || { echo "usage: tools/tidy.sh [BUILD_DIR]" >&2; exit 2; }
build=$(cd "${1:-$root/build/host}" && pwd)
db=$build/compile_commands.json
[ -f "$db" ] || { echo "tidy: no $db (configure the build first)" >&2; exit 1; }
tidy=${CLANG_TIDY:-clang-tidy}
command -v "$tidy" >/dev/null || { echo "tidy: needs $tidy (./corvisor setup)" >&2; exit 1; }
command -v jq >/dev/null || { echo "tidy: needs jq" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Each file once (a source built into several targets has several entries).
jq -r '.[].file' "$db" | sort -u | grep -E "^$root/(src|tests|tools|bench|devices)/" >"$work/files" || true
n=$(wc -l <"$work/files")
[ "$n" -gt 0 ] || { echo "tidy: no project sources in $db" >&2; exit 1; }

# One clang-tidy per file; its output is kept under a name derived from the file's.
export tidy build work
xargs -a "$work/files" -P "${CORVISOR_TIDY_JOBS:-2}" -I{} sh -c '
    out=$work/$(printf %s "$1" | tr / _)
    "$tidy" -p "$build" --quiet "$1" >"$out.out" 2>"$out.err" || echo "$1" >>"$work/failed"
' sh {}

if [ -s "$work/failed" ]; then
    sort "$work/failed" | while IFS= read -r f; do
        out=$work/$(printf %s "$f" | tr / _)
        cat "$out.out"
        # stderr: the "N warnings generated" noise out, errors (a crash, a bad flag) kept.
        grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Error while processing' \
            "$out.err" || true
    done
    # A header's finding is reported by every file that includes it: counted once.
    findings=$(cat "$work"/*.out | { grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error):' || true; } |
        sort -u | wc -l)
    echo "tidy: $n files, $findings findings in $(wc -l <"$work/failed") of them" >&2
    exit 1
fi
echo "tidy: $n files, no findings"
