#!/usr/bin/env bash
# The native suite under clang's AddressSanitizer + UndefinedBehaviorSanitizer
# (tools/test.sh runs it under GCC's). clang's UBSan checks more of C's
# pointer rules than GCC's: arithmetic on a NULL pointer, even + 0, and a
# pointer taken past the end of an array before an offset brings it back.
# Needs clang (tools/install-deps.sh --fuzz). Every test but cli_install:
# that one links a static libhpctrain.a into a program built with the
# system cc (GCC) and pkg-config's -fopenmp, i.e. against GCC's OpenMP
# runtime, while a clang-built archive calls LLVM's (__kmpc_*); use one
# compiler for both. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
command -v clang >/dev/null ||
    { echo "test_clang.sh: no clang (tools/install-deps.sh --fuzz)" >&2; exit 2; }
echo "== clang, ASan + UBSan"
CC=clang CXX=clang++ cmake -S . -B build-clang-san -DCMAKE_BUILD_TYPE=Debug \
      -DHT_WERROR=ON -DHT_SANITIZE=ON -DHT_BUILD_BENCH=OFF -DCMAKE_C_FLAGS="-O1"
cmake --build build-clang-san -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-clang-san --output-on-failure -j"$jobs" -E '^cli_install$'
