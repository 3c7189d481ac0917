#!/usr/bin/env bash
# Prepares a Debian 12 x86-64 machine to cross-build hpctrain for aarch64 and
# run its tests under qemu-user.
#
#   tools/setup-arm64.sh [DEST]        (default DEST: ./.arm64)
#
# 1. Host (amd64) packages, installed with apt-get only if missing:
#    gcc-aarch64-linux-gnu, libc6-dev-arm64-cross (the aarch64 libc headers
#    are only a Recommends of the cross gcc, so they are named explicitly),
#    qemu-user, and g++-aarch64-linux-gnu for the C++ benchmarks. No
#    qemu-user-binfmt: binaries always run through qemu-aarch64 (CMake's
#    CROSSCOMPILING_EMULATOR), so binfmt_misc is never touched.
# 2. The arm64 libraries hpctrain links (cmocka, hwloc + libudev1, zlib,
#    Google Benchmark) are fetched through a PRIVATE apt state under DEST/apt
#    that reads the machine's configured Debian sources and writes lists,
#    cache and status only under DEST, then unpacked with dpkg-deb -x into
#    DEST/sysroot. `dpkg --add-architecture` is never run; the machine's apt
#    configuration and package database are unchanged.
#
# Set HT_ARM64_BENCH=0 to skip the C++ pieces (g++ cross, libbenchmark).
# Needs root (or sudo) for step 1 only when something is missing.
set -euo pipefail

DEST=${1:-$PWD/.arm64}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
BENCH=${HT_ARM64_BENCH:-1}
t0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ------------------------------------------------------------ host packages
host_pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user cmake make pkg-config"
[ "$BENCH" = 1 ] && host_pkgs="$host_pkgs g++-aarch64-linux-gnu"
missing=""
for p in $host_pkgs; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "setup-arm64: installing host packages:$missing"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing
fi
t1=$(date +%s.%N)
echo "setup-arm64: host packages ready ($(elapsed "$t0") s)"

# ------------------------------------------------ arm64 libraries (private)
SR=$DEST/sysroot
A=$DEST/apt
arm64_pkgs="libcmocka0 libcmocka-dev libhwloc15 libhwloc-dev libudev1 zlib1g zlib1g-dev"
[ "$BENCH" = 1 ] && arm64_pkgs="$arm64_pkgs libbenchmark1debian libbenchmark-dev"
stamp=$SR/.ht-packages
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$arm64_pkgs" ]; then
    echo "setup-arm64: sysroot $SR already has: $arm64_pkgs"
else
    rm -rf "$A" "$DEST/debs" "$SR"
    mkdir -p "$A/state/lists/partial" "$A/cache/archives/partial" "$A/log" \
             "$DEST/debs" "$SR"
    : > "$A/status.empty"
    # Only the architecture, state, cache and log paths are overridden: the
    # sources (Dir::Etc) stay the machine's own, read-only.
    apt_arm64=(-o APT::Architecture=arm64 -o APT::Architectures=arm64
               -o Dir::State="$A/state" -o Dir::State::Lists="$A/state/lists"
               -o Dir::State::status="$A/status.empty" -o Dir::Cache="$A/cache"
               -o Dir::Log="$A/log" -o Acquire::Languages=none
               -o APT::Sandbox::User=root)
    apt-get "${apt_arm64[@]}" -qq update
    # `download` ignores dependencies on purpose: libhwloc-dev declares
    # libnuma-dev and libltdl-dev, needed only for static linking.
    (cd "$DEST/debs" && apt-get "${apt_arm64[@]}" -qq download $arm64_pkgs)
    for f in "$DEST"/debs/*.deb; do
        dpkg-deb -x "$f" "$SR"
    done
    # Debian's absolute symlinks (usr/lib/.../libz.so -> /lib/.../libz.so.1)
    # would point at the host's root: make them relative inside the sysroot.
    find "$SR" -type l | while read -r link; do
        target=$(readlink "$link")
        case $target in
        /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" \
                       "$SR$target")" "$link" ;;
        esac
    done
    echo "$arm64_pkgs" > "$stamp"
fi

# The libraries hpctrain links must be there, and be AArch64.
libdir=$SR/usr/lib/aarch64-linux-gnu
need="libcmocka.so libhwloc.so libudev.so.1 libz.so"
[ "$BENCH" = 1 ] && need="$need libbenchmark.so"
for l in $need; do
    if [ ! -e "$libdir/$l" ]; then
        echo "setup-arm64: $libdir/$l missing after unpacking" >&2
        exit 1
    fi
    real=$(readlink -f "$libdir/$l")
    if ! LC_ALL=C aarch64-linux-gnu-readelf -h "$real" | grep -q 'Machine:.*AArch64'; then
        echo "setup-arm64: $real is not an AArch64 library" >&2
        exit 1
    fi
done
echo "setup-arm64: arm64 sysroot ready in $SR ($(elapsed "$t1") s)"
echo "setup-arm64: total $(elapsed "$t0") s"
