#!/usr/bin/env bash
# Checks that a CTest suite tests what it claims to. Run after `ctest` in that build folder:
#   tools/check_tests.sh BUILD_DIR
# Fails (exit 1, naming the offenders) when
#   - a registered test name contains ';' (CMake lists split on it: a Catch2 case named "a; b"
#     becomes tests that select nothing);
#   - for each Catch2 binary the suite runs (host_tests): a registered test does not select
#     exactly one Catch2 test case (Catch2 v2 exits 0 when its filter matches nothing), a Catch2
#     test case name contains ';', or a Catch2 test case is registered under no CTest test;
#   - the output of the last ctest run (Testing/Temporary/LastTest.log) says "No test cases
#     matched": a test that passed while running nothing.
# Needs jq (reads `ctest --show-only=json-v1`).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: tools/check_tests.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
command -v jq >/dev/null || { echo "check_tests: needs jq" >&2; exit 1; }

fail=0
bad() { printf 'check_tests: %s: FAIL: %s\n' "$build" "$*" >&2; fail=1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# (c) The last run's output. ctest -N below writes a new (empty) LastTest.log: the run's is
# read first and put back afterwards.
log=$build/Testing/Temporary/LastTest.log
if [ -f "$log" ]; then
    cp "$log" "$work/LastTest.log"
    while IFS= read -r line; do
        bad "a test ran nothing: $line"
    done < <(grep -F 'No test cases matched' "$log" || true)
fi

ctest --test-dir "$build" --show-only=json-v1 >"$work/tests.json"
[ ! -f "$work/LastTest.log" ] || cp "$work/LastTest.log" "$log"

# (a) No ';' in any registered test name.
jq -r '.tests[].name' "$work/tests.json" >"$work/names"
while IFS= read -r name; do
    bad "test name contains ';': $name"
done < <(grep -F ';' "$work/names" || true)

# (b) Catch2 binaries: every test the suite runs through one of them, as "NAME<TAB>SPEC" (the
# CTest name, and the test spec argument Catch2 is given).
jq -r '[.tests[].command[0] // empty] | unique | .[]' "$work/tests.json" |
    while IFS= read -r exe; do
        [ "$(basename "$exe")" = host_tests ] && printf '%s\n' "$exe"
    done >"$work/catch_bins" || true
while IFS= read -r exe; do
    [ -x "$exe" ] || { bad "Catch2 binary $exe is missing"; continue; }
    # Catch2 v2's --list-* exit status is the number of cases listed: not checked.
    { "$exe" --list-test-names-only || true; } | sed '/^$/d' | sort >"$work/cases"
    [ -s "$work/cases" ] || bad "$exe lists no test cases"
    while IFS= read -r name; do
        bad "Catch2 test case name contains ';': $name"
    done < <(grep -F ';' "$work/cases" || true)
    jq -r --arg exe "$exe" '.tests[] | select(.command[0] == $exe)
                            | "\(.name)\t\(.command[1] // "")"' "$work/tests.json" >"$work/registered"
    while IFS=$'\t' read -r name spec; do
        # The registered name is a case's name, exactly ...
        grep -qxF -- "$name" "$work/cases" || bad "registered '$name' is no Catch2 test case"
        # ... and what CTest runs selects exactly one case.
        n=$({ "$exe" "$spec" --list-test-names-only || true; } | sed '/^$/d' | wc -l)
        [ "$n" -eq 1 ] || bad "registered '$name' runs $n Catch2 test cases (spec '$spec')"
    done <"$work/registered"
    # Every case is registered, or the suite never runs it.
    cut -f1 "$work/registered" | sort >"$work/registered_names"
    while IFS= read -r name; do
        bad "Catch2 test case '$name' is registered under no CTest test"
    done < <(comm -23 "$work/cases" "$work/registered_names")
done <"$work/catch_bins"

if [ "$fail" -eq 0 ]; then
    echo "check_tests: $build: $(wc -l <"$work/names") tests, names and Catch2 cases agree"
fi
exit $fail
