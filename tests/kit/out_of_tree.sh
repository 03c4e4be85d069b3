#!/usr/bin/env bash
# The device author's path, end to end, as docs/devices.md ("Building out of tree") gives it:
#  1. install corvisor's device package (headers, the test kit, the CMake package) to a prefix;
#  2. copy the example device (examples/device) to a folder of its own, build it there against
#     the installed package (find_package(corvisor)) and run its host tests;
#  3. build an image with that folder as an out-of-tree device (CORVISOR_DEVICE_DIRS, what
#     `./corvisor build --devices DIR` sets);
#  4. boot it with a guest that drives the device (guests/delaydev) beside a hello guest.
#   tests/kit/out_of_tree.sh ROOT WORK_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: out_of_tree.sh ROOT WORK_DIR" >&2; exit 2; }
root=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
step() { printf 'out-of-tree: %s\n' "$*"; }
quiet() { "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log"; echo "out-of-tree: FAILED: $*"; exit 1; }; }

step "1. install the device package"
quiet cmake -S "$root" -B "$work/corvisor" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCORVISOR_SANITIZE=OFF
quiet cmake --build "$work/corvisor" --target corvisor_testkit_static
quiet cmake --install "$work/corvisor" --prefix "$work/prefix"
[ -f "$work/prefix/include/corvisor/testing/device_kit.hpp" ] &&
    [ -f "$work/prefix/lib/libcorvisor_testkit.a" ] || { step "FAILED: package incomplete"; exit 1; }

step "2. the example device, copied out, built against the package, its host tests"
cp -r "$root/examples/device" "$work/mydevice"
# Nothing of the device may come from corvisor's source tree.
if grep -n '#include "' "$work"/mydevice/*.cpp; then
    step "FAILED: the device includes something other than <corvisor/...>"
    exit 1
fi
quiet cmake -S "$work/mydevice" -B "$work/mydevice/build" -G Ninja \
    -DCMAKE_PREFIX_PATH="$work/prefix"
quiet cmake --build "$work/mydevice/build"
ctest --test-dir "$work/mydevice/build" --output-on-failure | tail -n 3

step "3. an image with it (CORVISOR_DEVICE_DIRS)"
quiet cmake -S "$root" -B "$work/el2" -G Ninja --toolchain "$root/cmake/aarch64-el2.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCORVISOR_DEPS="$root/build/deps" \
    -DCORVISOR_DEVICE_DIRS="$work/mydevice"
quiet cmake --build "$work/el2" --target corvisor_image guest_delaydev guest_hello

step "4. boot it"
"$root/tests/qemu/run_case.sh" "$work/el2" "$root/tests/qemu/lists/example_device.dts" \
    --expect "[delaydev] delaydev: id 434f5256" \
    --expect "[delaydev] delaydev: slow read 1, after its delay" \
    --expect "[delaydev] delaydev: doorbell interrupt, status 1" \
    --expect "[delaydev] delaydev: ok" \
    --expect "[hello] hello: done" \
    --expect "    delay@a000000: slow-reads 1" \
    --expect "delaydev: powered off after 1 boot(s)" \
    --reject "FAILED" --reject "corvisor: error" --reject "PANIC"
step "ok"
