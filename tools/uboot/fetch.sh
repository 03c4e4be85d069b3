#!/usr/bin/env bash
# Debian's U-Boot for QEMU virt (package u-boot-qemu, build qemu_arm64): downloaded once with
# `apt-get download`, unpacked with dpkg-deb, never installed. Leaves DEST/u-boot.bin (the
# folder guest lists' /incbin/ searches: build/el2/guests) and keeps the .deb in CACHE.
#   tools/uboot/fetch.sh DEST_DIR [CACHE_DIR]
set -euo pipefail

dest=${1:?usage: tools/uboot/fetch.sh DEST_DIR [CACHE_DIR]}
cache=${2:-$(dirname "$dest")/../deps/u-boot}
out=$dest/u-boot.bin
[ -f "$out" ] && exit 0
mkdir -p "$dest" "$cache"
if ! ls "$cache"/u-boot-qemu_*_all.deb >/dev/null 2>&1; then
    (cd "$cache" && apt-get download -qq u-boot-qemu >/dev/null 2>&1) || {
        echo "fetch: cannot download Debian's u-boot-qemu (apt-get download u-boot-qemu)" >&2
        exit 1
    }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$(ls "$cache"/u-boot-qemu_*_all.deb | head -1)" "$work"
bin=$work/usr/lib/u-boot/qemu_arm64/u-boot.bin
[ -f "$bin" ] || { echo "fetch: no qemu_arm64/u-boot.bin in u-boot-qemu" >&2; exit 1; }
cp "$bin" "$out"
