#!/usr/bin/env bash
# The thread-scaling run of issue 5 as one command: `hpctrain bench` on the
# benchmark configuration (784-1024-1024-10, dropout 0.5, L2 1e-4, SGD
# momentum, batch 128; random data, so no data set is needed) at each
# thread count, one process at a time. Prints per thread count the median
# samples/s, the speed-up and parallel efficiency against the first count,
# the GEMMs' GFLOP/s per thread, their barrier-wait share, the binding the
# run reported, and the weights hash, which must be the same on every line
# (the script exits 1 if it is not). The bench outputs and profiles (JSON)
# stay in OUT.
#
#   tools/scaling_run.sh [HPCTRAIN] [OUT] [THREADS...]
#     HPCTRAIN  default build/hpctrain
#     OUT       default scaling-out (created)
#     THREADS   default 1 2 4 8 16, those above the machine's cores dropped
# Environment: STEPS (default 60 optimiser steps per run), REPEAT (default
# 3 runs per count, median), BATCH (default 128), and, when set, LOCK: a
# file to hold exclusively around each run (flock), so that nothing else
# that honours it times at the same moment.
# The step's GFLOP/s is also given as a share of the FMA peak measured at
# each thread count (tools/fma_peak.c, before the runs, at the vector width
# of the table hpctrain runs): on machines whose cores share an FMA unit or
# a host core, the peak itself does not grow with the thread count, and the
# speed-up alone would misread that as a fault of the scheduler. FMA_PEAK
# names a prebuilt fma_peak binary; otherwise it is built with CC (default
# cc); without either the column is left out.
set -euo pipefail
H=${1:-build/hpctrain}
OUT=${2:-scaling-out}
shift $(( $# < 2 ? $# : 2 ))
STEPS=${STEPS:-60}
REPEAT=${REPEAT:-3}
BATCH=${BATCH:-128}
[ -x "$H" ] || { echo "scaling_run.sh: $H: not an executable (build first)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "scaling_run.sh: python3 is needed" >&2; exit 2; }
cores=$(lscpu -p=core 2>/dev/null | grep -v '^#' | sort -u | wc -l)
[ "$cores" -ge 1 ] 2>/dev/null || cores=$(nproc)
want=${*:-1 2 4 8 16}
threads=()
for t in $want; do
  case "$t" in ''|*[!0-9]*|0) echo "scaling_run.sh: thread count '$t' is not a positive integer" >&2; exit 2 ;; esac
  if [ "$t" -le "$cores" ] || [ -n "${*:-}" ]; then threads+=("$t"); fi
done
[ ${#threads[@]} -gt 0 ] || { echo "scaling_run.sh: no thread count fits $cores cores" >&2; exit 2; }
mkdir -p "$OUT"
: >"$OUT/peak.txt"
if bash "$(dirname "$0")/fma_peak_bin.sh" "$H" "$OUT/fma_peak"; then
  maxt=$(printf '%s\n' "${threads[@]}" | sort -n | tail -1)
  prun=("$OUT/fma_peak" "$maxt")
  [ -n "${LOCK:-}" ] && prun=(flock -x "$LOCK" "${prun[@]}")
  "${prun[@]}" >"$OUT/peak.txt" 2>/dev/null || : >"$OUT/peak.txt"
fi
CFG=(--arch 784-1024-1024-10 --dropout 0.5 --l2 1e-4 --lr 0.05 --momentum 0.9
     --batch "$BATCH" --steps "$STEPS" --repeat "$REPEAT" --quiet --print-hash)
"$H" info >"$OUT/info.txt" 2>&1 || true
echo "hpctrain bench ${CFG[*]}; $cores cores; threads ${threads[*]}"
for t in "${threads[@]}"; do
  run=("$H" bench "${CFG[@]}" --threads "$t" --profile-json "$OUT/t$t.json")
  [ -n "${LOCK:-}" ] && run=(flock -x "$LOCK" "${run[@]}")
  if ! "${run[@]}" >"$OUT/t$t.txt" 2>&1; then
    echo "scaling_run.sh: the run with $t threads failed:" >&2
    tail -5 "$OUT/t$t.txt" >&2
    exit 1
  fi
done
python3 - "$OUT" "${threads[@]}" <<'PYEOF'
import json, re, sys
out, ts = sys.argv[1], [int(t) for t in sys.argv[2:]]
# flops per training sample of 784-1024-1024-10: forward and weight
# gradients of all layers, input gradients of layers 2 and 3
FLOPS = 2 * (784*1024 + 1024*1024 + 1024*10) * 2 + 2 * (1024*1024 + 1024*10)
peak = {}
for line in open(f"{out}/peak.txt"):
    m = re.match(r"threads (\d+)\s+([0-9.]+) GFLOP/s", line)
    if m:
        peak[int(m.group(1))] = float(m.group(2))
rows = []
for t in ts:
    text = open(f"{out}/t{t}.txt").read()
    sps = float(re.search(r"^train: ([0-9.]+) samples/s", text, re.M).group(1))
    h = re.search(r"^weights hash ([0-9a-f]+)$", text, re.M).group(1)
    bind = re.search(r"^threads: (.*)$", text, re.M)
    prof = json.load(open(f"{out}/t{t}.json"))
    g = [k for k in prof["kinds"] if k["kind"].startswith("gemm")]
    secs = sum(k["seconds"] for k in g)
    flops = sum(k["flops"] for k in g)
    wait = sum(k["wait_share"] * k["seconds"] for k in g) / secs if secs else 0
    rows.append((t, sps, flops / secs / 1e9 / t if secs else 0, wait, h,
                 bind.group(1) if bind else "?"))
base_t, base = rows[0][0], rows[0][1]
have_peak = all(r[0] in peak for r in rows)
print(f"{'threads':>7} {'samples/s':>10} {'speed-up':>8} {'efficiency':>10} "
      f"{'GEMM GFLOP/s/thread':>19} {'GEMM wait':>9}"
      + (f" {'FMA peak':>9} {'% of peak':>9}" if have_peak else "") + "  hash")
for t, sps, gf, w, h, _ in rows:
    sp = sps / base
    extra = ""
    if have_peak:
        extra = f" {peak[t]:9.0f} {sps * FLOPS / 1e9 / peak[t]:9.1%}"
    print(f"{t:7d} {sps:10.0f} {sp:7.2f}x {sp * base_t / t:9.1%} {gf:19.1f} "
          f"{w:9.1%}{extra}  {h}")
if have_peak:
    print(f"(FMA peak: GFLOP/s of t concurrent FMA loops, tools/fma_peak.c; "
          f"% of peak: samples/s x {FLOPS / 1e6:.2f} MFLOP per sample over it)")
for t, *_, b in rows:
    print(f"  {t} threads: {b[:160]}")
hashes = {r[4] for r in rows}
if len(hashes) == 1:
    print(f"weights hash identical for every thread count ({hashes.pop()})")
else:
    print("weights hash DIFFERS between thread counts:",
          ", ".join(f"{r[0]}: {r[4]}" for r in rows))
    sys.exit(1)
PYEOF
