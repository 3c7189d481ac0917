#!/usr/bin/env bash
# Puts an FMA-peak probe (tools/fma_peak.c) at OUT for the vector width of
# the kernel table HPCTRAIN runs (avx2: 8 lanes, avx512: 16;
# HPCTRAIN_ISA honoured): a copy of the prebuilt binary named by FMA_PEAK
# if set, else a build with CC (default cc). Shared by
# bench/compare_torch.sh and tools/scaling_run.sh, the denominators of
# their "% of peak" columns. Exits 1, leaving no OUT, where there is no
# probe for the table (scalar, neon) or it cannot be built.
#   tools/fma_peak_bin.sh HPCTRAIN OUT
set -u
H=${1:?usage: fma_peak_bin.sh HPCTRAIN OUT}
OUT=${2:?usage: fma_peak_bin.sh HPCTRAIN OUT}
rm -f "$OUT"
ISA=$("$H" info 2>/dev/null | sed -n 's/^isa: *\([a-z0-9]*\).*/\1/p')
case "$ISA" in
  avx2) FLAGS="-mavx2 -mfma" ;;
  avx512) FLAGS="-mavx512f -mfma" ;;
  *) exit 1 ;;
esac
if [ -n "${FMA_PEAK:-}" ]; then
  [ -x "$FMA_PEAK" ] && cp "$FMA_PEAK" "$OUT" && exit 0
  exit 1
fi
# shellcheck disable=SC2086
"${CC:-cc}" -O2 $FLAGS -fopenmp "$(dirname "$0")/fma_peak.c" -o "$OUT" 2>/dev/null || { rm -f "$OUT"; exit 1; }
