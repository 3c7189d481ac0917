#!/usr/bin/env bash
# The arm64 CI job: prepares the machine (tools/setup-arm64.sh: cross gcc,
# qemu-user, arm64 libraries in a private sysroot), cross-builds hpctrain for
# aarch64 with -Werror, and runs the whole ctest suite under qemu-aarch64
# twice: with qemu's default CPU ("max": every extension qemu knows) and
# with QEMU_CPU=cortex-a53 (plain ARMv8.0: FP + ASIMD only), which proves
# the default build uses baseline armv8-a instructions only. Prints the
# duration of every step and both ctest summaries.
#
#   .ci/arm64.sh                 (from anywhere; paths are the repository's)
# Environment: ARM64_DIR (default <repo>/.arm64), ARM64_BUILD_DIR (default
# <repo>/build-arm64), JOBS (default 2), HT_ARM64_BENCH=0 to skip building
# the benchmarks for aarch64 (they are built, never run: qemu cannot time).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARM64_DIR=${ARM64_DIR:-$ROOT/.arm64}
BUILD=${ARM64_BUILD_DIR:-$ROOT/build-arm64}
JOBS=${JOBS:-2}
BENCH=${HT_ARM64_BENCH:-1}
LOGS=$BUILD/ci-logs

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
die() { echo "arm64: $*" >&2; exit 1; }

t0=$(now)
HT_ARM64_BENCH=$BENCH bash "$ROOT/tools/setup-arm64.sh" "$ARM64_DIR" \
    || die "setup failed"
t1=$(now)

bench_opt=OFF
[ "$BENCH" = 1 ] && bench_opt=ON
cmake -S "$ROOT" -B "$BUILD" \
      -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-aarch64-linux-gnu.cmake" \
      -DARM64_SYSROOT="$ARM64_DIR/sysroot" -DCMAKE_BUILD_TYPE=Release \
      -DHT_WERROR=ON -DHT_BUILD_BENCH=$bench_opt \
    || die "configure failed"
cmake --build "$BUILD" -j"$JOBS" || die "build failed"
t2=$(now)

# What was built must really be AArch64 code.
lib=$BUILD/libhpctrain.a
[ -f "$lib" ] || die "$lib missing"
first_obj=$(find "$BUILD" -name '*.o' -path '*ht_objs*' | head -n 1)
aarch64-linux-gnu-readelf -h "$first_obj" | grep -q 'Machine:.*AArch64' \
    || die "$first_obj is not AArch64"

mkdir -p "$LOGS"
run_ctest() { # $1 label, $2 QEMU_CPU or empty
    local log=$LOGS/ctest-$1.log rc
    if [ -n "$2" ]; then
        QEMU_CPU=$2 ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" \
            > "$log" 2>&1
    else
        env -u QEMU_CPU ctest --test-dir "$BUILD" --output-on-failure \
            -j"$JOBS" > "$log" 2>&1
    fi
    rc=$?
    cat "$log"
    return $rc
}

echo "arm64: ctest under qemu-aarch64, default CPU (max)"
run_ctest default ""
rc_default=$?
t3=$(now)
echo "arm64: ctest under qemu-aarch64, QEMU_CPU=cortex-a53 (ARMv8.0)"
run_ctest cortex-a53 cortex-a53
rc_a53=$?
t4=$(now)

if [ -x "$BUILD/hpctrain" ]; then
    echo "arm64: hpctrain info under QEMU_CPU=cortex-a53:"
    QEMU_CPU=cortex-a53 QEMU_LD_PREFIX=/usr/aarch64-linux-gnu \
        QEMU_SET_ENV="LD_LIBRARY_PATH=$ARM64_DIR/sysroot/usr/lib/aarch64-linux-gnu:$ARM64_DIR/sysroot/lib/aarch64-linux-gnu" \
        qemu-aarch64 "$BUILD/hpctrain" info || echo "arm64: hpctrain info failed"
fi

summary() { grep -E 'tests passed|Total Test time' "$LOGS/ctest-$1.log"; }
echo
echo "==================== arm64 job summary ===================="
row() { printf '%-38s %7s s%s\n' "$1" "$2" "${3:-}"; }
row "setup (tools/setup-arm64.sh)" "$(secs "$t0" "$t1")"
row "configure + build (bench $bench_opt)" "$(secs "$t1" "$t2")"
row "ctest, qemu default CPU (max)" "$(secs "$t2" "$t3")" " (rc $rc_default)"
summary default | sed 's/^/    /'
row "ctest, QEMU_CPU=cortex-a53" "$(secs "$t3" "$t4")" " (rc $rc_a53)"
summary cortex-a53 | sed 's/^/    /'
row "total" "$(secs "$t0" "$t4")"
[ "$rc_default" = 0 ] && [ "$rc_a53" = 0 ]
