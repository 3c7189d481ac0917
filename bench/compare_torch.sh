#!/usr/bin/env bash
# hpctrain against PyTorch on the Fashion-MNIST benchmark configuration of
# issue 5, at 1 and 2 threads: median seconds per epoch and samples/s of
# each, their ratio, hpctrain's share of the measured FMA peak, its
# 2-thread speed-up and the 1-vs-2-thread weight hash.
#
# usage: bash bench/compare_torch.sh [HPCTRAIN] [REPS] [THREADS...]
#   HPCTRAIN  the hpctrain binary (default build/hpctrain)
#   REPS      timed epochs per setting, median reported (default 3)
#   THREADS   thread counts (default: 1 2)
# PyTorch runs bench/torch_mlp.py with Debian's /usr/bin/python3 at its best
# setting here: N intra-op threads over the OpenMP build of OpenBLAS
# (--blas openmp), so BLAS and PyTorch share one thread pool, with OpenBLAS's
# kernels chosen by TORCH_CORETYPE (OPENBLAS_CORETYPE; default: SkylakeX on
# an AVX-512 CPU, Haswell on AVX2, else OpenBLAS's own choice). OpenBLAS
# 0.3.21 falls back to Prescott (SSE3) kernels on CPUs it does not know,
# such as this VM's Sapphire Rapids; TORCH_CORETYPE= (empty) keeps that.
# Every timed run takes the exclusive lock /tmp/hpctrain-cpu.lock (if flock
# exists), one run at a time, so other work can interleave between runs.
# Environment: HT_DATA (IDX directory), CC (to build tools/fma_peak.c),
# FMA_PEAK (a prebuilt tools/fma_peak binary, for a machine without a
# compiler), PY (the Python that has torch; default /usr/bin/python3) and
# TORCH_BLAS (torch_mlp.py's --blas; default openmp, "default" for a
# PyTorch that brings its own BLAS, such as a pip wheel's MKL).
set -u
cd "$(dirname "$0")/.." || exit 2
H=${1:-build/hpctrain}
REPS=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
THREADS=${*:-1 2}
DATA=${HT_DATA:-/usr/share/datasets/fashion-mnist}
PY=${PY:-/usr/bin/python3}
TORCH_BLAS=${TORCH_BLAS:-openmp}
if [ -z "${TORCH_CORETYPE+set}" ]; then
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then TORCH_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then TORCH_CORETYPE=Haswell
    else TORCH_CORETYPE=; fi
fi
CFG="--arch 784-1024-1024-10 --dropout 0.5 --l2 1e-4 --lr 0.05 --momentum 0.9 --batch 128"
# flops per training sample: forward and weight gradients of all three
# layers, input gradients of layers 2 and 3
FLOPS=$(( 2 * (784*1024 + 1024*1024 + 1024*10) * 2 + 2 * (1024*1024 + 1024*10) ))
LOCK=()
command -v flock >/dev/null && LOCK=(flock -x /tmp/hpctrain-cpu.lock)
WORK=$(mktemp -d) || exit 1
trap 'rm -rf "$WORK"' EXIT

[ -x "$H" ] || { echo "compare_torch.sh: $H: no hpctrain binary (build first)"; exit 2; }
[ -x "$PY" ] && "$PY" -c "import torch" 2>/dev/null ||
    { echo "compare_torch.sh: $PY cannot import torch (apt-get install python3-torch, or set PY)"; exit 2; }

median() { sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# Measured FMA peak per thread count (tools/fma_peak.c), if there is a probe
# for the vector width of the kernel table hpctrain runs (HPCTRAIN_ISA honoured).
ISA=$("$H" info 2>/dev/null | sed -n 's/^isa: *\([a-z0-9]*\).*/\1/p')
declare -A PEAK
if bash tools/fma_peak_bin.sh "$H" "$WORK/fma_peak"; then
    maxt=$(printf '%s\n' $THREADS | sort -n | tail -1)
    "${LOCK[@]}" "$WORK/fma_peak" "$maxt" >"$WORK/peak" || true
    while read -r _ t g _; do PEAK[$t]=$g; done <"$WORK/peak"
fi

declare -A HT_S HT_SPS TO_S TO_SPS HASH
steal() { awk '/^cpu / {print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
read -r steal0 total0 < <(steal)
# Interleaved (hpctrain, PyTorch, next thread count, next repetition), so
# that a slow spell of this shared VM hits both sides alike.
for r in $(seq "$REPS"); do
    for t in $THREADS; do
        "${LOCK[@]}" "$H" train --data "$DATA" $CFG --epochs 1 --threads "$t" \
            --quiet --print-hash >"$WORK/ht.$t.$r" 2>&1 ||
            { echo "hpctrain failed:"; cat "$WORK/ht.$t.$r"; exit 1; }
        "${LOCK[@]}" "$PY" bench/torch_mlp.py --data "$DATA" --arch 784-1024-1024-10 \
            --dropout 0.5 --l2 1e-4 --lr 0.05 --momentum 0.9 --batch 128 \
            --threads "$t" --blas "$TORCH_BLAS" --coretype "$TORCH_CORETYPE" \
            --timing-epochs 1 >"$WORK/to.$t.$r" 2>&1 ||
            { echo "torch_mlp.py failed:"; cat "$WORK/to.$t.$r"; exit 1; }
    done
done
read -r steal1 total1 < <(steal)
# the peak again after the runs; the higher of the two is the peak used
if [ -x "$WORK/fma_peak" ]; then
    "${LOCK[@]}" "$WORK/fma_peak" "$maxt" >>"$WORK/peak" || true
    while read -r _ t g _; do
        awk -v a="$g" -v b="${PEAK[$t]:-0}" 'BEGIN {exit !(a > b)}' && PEAK[$t]=$g
    done <"$WORK/peak"
fi
for t in $THREADS; do
    HT_S[$t]=$(for r in $(seq "$REPS"); do sed -n 's/^epoch 1\/1 .*  \([0-9.]*\) s .*/\1/p' "$WORK/ht.$t.$r"; done | median)
    HASH[$t]=$(sed -n 's/^weights hash //p' "$WORK/ht.$t.1")
    HT_SPS[$t]=$(awk -v s="${HT_S[$t]}" 'BEGIN {printf "%.0f", 60000 / s}')
    TO_S[$t]=$(for r in $(seq "$REPS"); do sed -n 's/^timing: .* median \([0-9.]*\) s\/epoch.*/\1/p' "$WORK/to.$t.$r"; done | median)
    TO_SPS[$t]=$(awk -v s="${TO_S[$t]}" 'BEGIN {printf "%.0f", 60000 / s}')
done

echo "hpctrain ($ISA kernels) vs PyTorch, $CFG, median of $REPS epochs (one per process, interleaved)"
grep -h '^blas:' "$WORK"/to.* | sort -u | sed 's/^/PyTorch /'
printf '%-8s %12s %12s %12s %12s %8s %8s %10s\n' threads "hpctrain s" "hpctrain/s" \
       "torch s" "torch/s" ratio "% peak" "hash"
for t in $THREADS; do
    pk=${PEAK[$t]:-}
    pct=-
    [ -n "$pk" ] && pct=$(awk -v sps="${HT_SPS[$t]}" -v f="$FLOPS" -v p="$pk" \
                         'BEGIN {printf "%.1f", 100 * sps * f / (p * 1e9)}')
    ratio=$(awk -v a="${TO_S[$t]}" -v b="${HT_S[$t]}" 'BEGIN {printf "%.2f", a / b}')
    printf '%-8s %12s %12s %12s %12s %8s %8s %10s\n' "$t" "${HT_S[$t]}" \
           "${HT_SPS[$t]}" "${TO_S[$t]}" "${TO_SPS[$t]}" "${ratio}x" "$pct" "${HASH[$t]}"
done
[ -n "${PEAK[1]:-}" ] && grep -h GFLOP "$WORK/peak" | sed 's/^/FMA peak (before, after; the higher is used): /'
awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) \
    'BEGIN {if (t > 0) printf "host steal time during the runs: %.1f%% of CPU time\n", 100 * s / t}'
first=$(printf '%s\n' $THREADS | head -1)
for t in $THREADS; do
    [ "$t" = "$first" ] && continue
    awk -v a="${HT_S[$first]}" -v b="${HT_S[$t]}" -v t="$t" -v f="$first" \
        'BEGIN {printf "hpctrain speed-up %s vs %s threads: %.2fx\n", t, f, a / b}'
    if [ "${HASH[$t]}" = "${HASH[$first]}" ]; then
        echo "weights hash $t threads = $first threads: identical (${HASH[$t]})"
    else
        echo "weights hash $t threads != $first threads: ${HASH[$t]} vs ${HASH[$first]}"
    fi
done
