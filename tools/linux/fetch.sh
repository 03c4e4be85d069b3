#!/usr/bin/env bash
# Fetch Debian's arm64 Linux kernel and busybox, and build the Linux guest's files:
#   tools/linux/fetch.sh BUILD_DIR
# produces BUILD_DIR/linux/Image (the kernel: an arm64 Image with its boot header) and
# BUILD_DIR/linux/initramfs.cpio (a cpio "newc" archive: busybox-static, its applet links,
# guests/linux/init as /init, and the kernel's modules that corvisor's virtio devices need, in
# /lib/modules), and two ext4 disk images for the virtio-blk device: BUILD_DIR/linux/disk.img
# (8 MiB, a hello.txt; the default guest list's /dev/vda) and BUILD_DIR/linux/bench-disk.img
# (20 MiB, a 16 MiB data.bin; the virtio_blk benchmark's). Nothing is installed: the packages are downloaded with `apt-get download` into
# BUILD_DIR/linux/deb/ and unpacked with dpkg-deb (of the kernel package only ./boot/vmlinuz-*
# and the modules named in `modules` below; the .deb files are deleted once unpacked).
#
# Cached: the kernel package is the one Debian's linux-image-arm64:arm64 metapackage depends on
# today (resolved with apt-cache; versions move, none is hard-coded). Once BUILD_DIR/linux/Image
# is there, nothing is downloaded again (delete BUILD_DIR/linux/ to refetch); the initramfs is
# rebuilt whenever guests/linux/init or this script is newer than it. Needs the arm64 foreign
# architecture in dpkg and a current apt list (./corvisor setup does both), and `cpio`.
set -euo pipefail
[ $# -eq 1 ] || { sed -n '3p' "$0" | sed 's/^# *//' >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mkdir -p "$1/linux" && cd "$1/linux" && pwd)
init=$root/guests/linux/init

say() { printf 'corvisor: linux: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# download PKG...: apt-get download into $out/deb (apt's own log kept for the error message).
download() {
    mkdir -p "$out/deb"
    (cd "$out/deb" && apt-get download -q "$@") >"$out/deb/apt.log" 2>&1 || {
        sed 's/^/    /' "$out/deb/apt.log" >&2
        die "could not download $* (offline? run 'apt-get update' and retry; or put your own" \
            "kernel at $out/Image and initramfs at $out/initramfs.cpio, see docs/linux.md)"
    }
}

# Modules Debian builds as modules (not into the kernel) that corvisor's devices need: the
# virtio-mmio transport, the virtio console and block drivers (devices/virtio), and ext4 for the
# disk with what it depends on (jbd2, mbcache, crc16; crc32c for its metadata checksums).
# /init loads them in this order.
modules=(kernel/drivers/virtio/virtio_mmio.ko kernel/drivers/char/virtio_console.ko
         kernel/drivers/block/virtio_blk.ko kernel/lib/crc16.ko kernel/fs/mbcache.ko
         kernel/fs/jbd2/jbd2.ko kernel/crypto/crc32c_generic.ko kernel/fs/ext4/ext4.ko)

# --- The kernel --------------------------------------------------------------------------------
have_modules=1
for m in "${modules[@]}"; do [ -s "$out/modules/$(basename "$m")" ] || have_modules=0; done
if [ ! -s "$out/Image" ] || [ "$have_modules" = 0 ]; then
    dpkg --print-foreign-architectures | grep -qx arm64 ||
        die "dpkg has no arm64 architecture: run ./corvisor setup first"
    # linux-image-arm64 (a metapackage) depends on linux-image-<version>-arm64, the real one.
    kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
           sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' |
           head -n1)
    [ -n "$kpkg" ] || die "apt-cache does not know linux-image-arm64:arm64 (run 'apt-get update')"
    say "downloading $kpkg:arm64 (about 60 MB)"
    rm -f "$out"/deb/linux-image-*.deb
    download "$kpkg:arm64"
    deb=$(ls "$out"/deb/linux-image-*_arm64.deb)
    # The kernel and the few modules above, not the rest: extract those from the package's data.
    rm -rf "$out/kernel"
    mkdir -p "$out/kernel"
    kver=${kpkg#linux-image-}
    dpkg-deb --fsys-tarfile "$deb" |
        tar -x -C "$out/kernel" --wildcards './boot/vmlinuz-*' \
            "${modules[@]/#/./lib/modules/$kver/}"
    vmlinuz=$(ls "$out"/kernel/boot/vmlinuz-*)
    # Debian's arm64 vmlinuz is an uncompressed Image in an EFI (PE) wrapper, "MZ" at offset 0
    # (EFI zboot and gzip'd kernels exist elsewhere): corvisor needs the Image boot header, the
    # magic "ARM\x64" at 0x38; a gzip'd kernel is unpacked first.
    case $(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' \n') in
        1f8b) gzip -dc "$vmlinuz" >"$out/Image.tmp" ;;
        *) cp "$vmlinuz" "$out/Image.tmp" ;;
    esac
    magic=$(dd if="$out/Image.tmp" bs=1 skip=56 count=4 2>/dev/null | od -An -tx1 | tr -d ' \n')
    [ "$magic" = 41524d64 ] || die "$vmlinuz has no arm64 Image header (magic at 0x38: $magic)"
    printf '%s\n' "$kpkg" >"$out/kernel.version"
    rm -rf "$out/modules"
    mkdir -p "$out/modules"
    for m in "${modules[@]}"; do
        cp "$out/kernel/lib/modules/$kver/$m" "$out/modules/" ||
            die "$kpkg has no $m"
    done
    mv "$out/Image.tmp" "$out/Image"
    rm -rf "$out/kernel" "$deb"
    say "kernel: $out/Image ($(stat -c %s "$out/Image") bytes, from $kpkg)"
fi

# --- busybox -----------------------------------------------------------------------------------
busybox=$out/busybox/bin/busybox
if [ ! -x "$busybox" ]; then
    say "downloading busybox-static:arm64"
    rm -f "$out"/deb/busybox-static_*.deb
    download busybox-static:arm64
    rm -rf "$out/busybox"
    dpkg-deb -x "$out"/deb/busybox-static_*_arm64.deb "$out/busybox"
    [ -x "$busybox" ] || die "busybox-static has no /bin/busybox"
    rm -f "$out"/deb/busybox-static_*.deb
fi

# --- The initramfs -----------------------------------------------------------------------------
cpio_out=$out/initramfs.cpio
if [ ! -s "$cpio_out" ] || [ "$init" -nt "$cpio_out" ] || [ "$0" -nt "$cpio_out" ] ||
   [ "$busybox" -nt "$cpio_out" ] || [ "$out/modules" -nt "$cpio_out" ]; then
    command -v cpio >/dev/null ||
        die "cpio is missing (apt-get install cpio; ./corvisor setup does)"
    tree=$(mktemp -d)
    trap 'rm -rf "$tree"' EXIT
    mkdir -p "$tree"/{bin,dev,proc,sys,tmp,root,etc,mnt,lib/modules}
    cp "$busybox" "$tree/bin/busybox"
    cp "$out"/modules/*.ko "$tree/lib/modules/"
    cp "$init" "$tree/init"
    chmod 0755 "$tree/init" "$tree/bin/busybox"
    # The applets /init needs before it runs `busybox --install -s /bin`, which links the rest.
    for a in sh mount mkdir cat echo grep uname cttyhack; do
        ln -s busybox "$tree/bin/$a"
    done
    # newc, every file owned by root; sorted, so that the archive depends only on its contents.
    (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) >"$cpio_out.tmp"
    mv "$cpio_out.tmp" "$cpio_out"
    say "initramfs: $cpio_out ($(stat -c %s "$cpio_out") bytes)"
fi

# --- The disk images -----------------------------------------------------------------------------
# make_disk IMAGE SIZE DIR: an ext4 image of DIR's files, the same bytes on every run (fixed UUID,
# hash seed and time), built beside and renamed. mke2fs lives in /usr/sbin (e2fsprogs).
make_disk() {
    local image=$1 size=$2 dir=$3
    PATH=$PATH:/usr/sbin:/sbin command -v mkfs.ext4 >/dev/null ||
        die "mkfs.ext4 is missing (apt-get install e2fsprogs; ./corvisor setup does)"
    rm -f "$image.tmp"
    PATH=$PATH:/usr/sbin:/sbin E2FSPROGS_FAKE_TIME=1767225600 \
        mkfs.ext4 -q -F -L corvisor -U 6c0b3e2a-5f1d-4c8e-9a7b-2d4f6e8a0c1e \
        -E root_owner=0:0,hash_seed=6c0b3e2a-5f1d-4c8e-9a7b-2d4f6e8a0c1e -d "$dir" \
        "$image.tmp" "$size" >/dev/null || die "mkfs.ext4 could not make $image"
    mv "$image.tmp" "$image"
    say "disk: $image ($(stat -c %s "$image") bytes)"
}
if [ ! -s "$out/disk.img" ] || [ "$0" -nt "$out/disk.img" ]; then
    files=$(mktemp -d)
    printf 'hello from the virtio-blk disk\n' >"$files/hello.txt"
    make_disk "$out/disk.img" 8M "$files"
    rm -rf "$files"
fi
if [ ! -s "$out/bench-disk.img" ] || [ "$0" -nt "$out/bench-disk.img" ]; then
    files=$(mktemp -d)
    # 16 MiB that are not zeros (ext4 would keep zeros as holes, which read without I/O).
    head -c 16777216 < <(yes corvisor-bench-data) >"$files/data.bin"
    make_disk "$out/bench-disk.img" 20M "$files"
    rm -rf "$files"
fi
