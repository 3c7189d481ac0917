#!/usr/bin/env bash
# Line coverage of the library and the CLI (src/, simd/) by the ctest
# suite: a gcc --coverage build in build-cov, ctest, then gcov's figure per
# source file (lowest first) and the total. Not part of CI (it is a second
# full build); run it after adding code to see what no test reaches.
# cli_install is left out: it links the instrumented static library into a
# project of its own, which lacks gcov's runtime.
# usage: tools/coverage.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-cov}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DHT_BUILD_BENCH=OFF \
      -DCMAKE_C_FLAGS="--coverage -O1" -DCMAKE_EXE_LINKER_FLAGS=--coverage \
      -DCMAKE_SHARED_LINKER_FLAGS=--coverage >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
find "$dir" -name '*.gcda' -delete
ctest --test-dir "$dir" -j"$(nproc)" -E '^cli_install$' --output-on-failure
root=$(pwd)
# one gcov run per object directory; each .c file is counted once, from the
# object that compiled it (headers are left out: their lines are counted
# once per including file)
find "$dir" -name '*.gcda' ! -path '*/tests/*' -printf '%h\n' | sort -u |
while read -r d; do
    (cd "$d" && gcov -n ./*.gcda 2>/dev/null)
done | awk -v root="$root/" '
    /^File / { f = $2; gsub("\x27", "", f); next }
    /^Lines executed:/ && f ~ ("^" root "(src|simd)/.*\\.c$") && !(f in seen) {
        split($2, a, "%"); n = $4; pct = substr(a[1], 10) + 0
        seen[f] = 1; name = substr(f, length(root) + 1)
        hit = int(pct * n / 100 + 0.5)
        printf "%6.1f%%  %5d/%-5d %s\n", pct, hit, n, name | "sort -n"
        th += hit; tn += n
    }
    END {
        close("sort -n")
        if (tn) printf "total: %.1f%% of %d lines in src/ and simd/\n", 100 * th / tn, tn
    }
'
