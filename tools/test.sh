#!/usr/bin/env bash
# The whole native test suite: a warnings-as-errors Release build with
# benchmarks, its ctest run, then the same suite under AddressSanitizer +
# UndefinedBehaviorSanitizer. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
echo "== Release, -Werror"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHT_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
echo "== ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHT_WERROR=ON -DHT_SANITIZE=ON \
      -DHT_BUILD_BENCH=OFF -DCMAKE_C_FLAGS="-O1"
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
