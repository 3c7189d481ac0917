#!/usr/bin/env bash
# A short, reproducible fuzzing campaign over the four libFuzzer targets of
# tests/fuzz/ (CSV, IDX and checkpoint readers, the command-line parser):
# a clang build with ASan + UBSan + libFuzzer (build-fuzz), then each target
# from its packed corpus for a fixed number of executions with a fixed seed,
# so a given tree always runs the same inputs. Any crash, leak, sanitizer
# report or out-of-memory fails the script and leaves the reproducer in
# build-fuzz/findings/TARGET/; replay it with build-fuzz/tests/fuzz_TARGET FILE,
# then add it to tests/fuzz/corpus/TARGET/ so every build replays it.
#
#   tools/fuzz.sh            the CI budget (about 10 s per target here)
#   tools/fuzz.sh 10         ten times the executions
# Needs clang and libclang-rt-14-dev (tools/install-deps.sh --fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
case "$scale" in
  ''|*[!0-9]*|0) echo "fuzz.sh: the scale must be a positive integer, not '$scale'" >&2; exit 2 ;;
esac
command -v clang >/dev/null ||
  { echo "fuzz.sh: clang not found (tools/install-deps.sh --fuzz)" >&2; exit 2; }
build=build-fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DHT_FUZZ=ON -DHT_WERROR=ON \
      -DHT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-O1" >/dev/null
if ! cmake --build "$build" -j"$(nproc)" \
       --target fuzz_csv fuzz_idx fuzz_checkpoint fuzz_args >"$build/build.log" 2>&1; then
  tail -40 "$build/build.log" >&2
  echo "fuzz.sh: the fuzz build failed (log: $build/build.log)" >&2
  exit 1
fi
# executions per target at scale 1: about 10 s each on one core of the
# development machine (the targets run at very different speeds)
declare -A runs=([csv]=500000 [idx]=60000 [checkpoint]=250000 [args]=1500000)
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
status=0
for t in csv idx checkpoint args; do
  work=$build/fuzz-work/$t findings=$build/findings/$t
  rm -rf "$work" "$findings"
  mkdir -p "$work" "$findings"
  python3 tests/fuzz/pack.py unpack "tests/fuzz/corpus/$t/merged.pack" "$work" >/dev/null
  n=$(( ${runs[$t]} * scale ))
  start=$(date +%s)
  # new inputs go to the scratch directory (first); the repository's
  # corpus is only read
  if "$build/tests/fuzz_$t" "$work" "tests/fuzz/corpus/$t" -runs="$n" -seed=1 \
       -rss_limit_mb=2048 -max_len=65536 -timeout=20 \
       -artifact_prefix="$findings/" >"$build/fuzz-$t.log" 2>&1; then
    echo "fuzz_$t: $n executions, no finding ($(( $(date +%s) - start )) s; $(grep -o 'cov: [0-9]*' "$build/fuzz-$t.log" | tail -1))"
  else
    echo "fuzz_$t: FAILED after $(( $(date +%s) - start )) s; reproducer in $findings/:" >&2
    ls "$findings" >&2
    tail -40 "$build/fuzz-$t.log" >&2
    status=1
  fi
done
exit $status
