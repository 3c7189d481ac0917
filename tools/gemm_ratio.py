#!/usr/bin/env python3
"""hpctrain vs OpenBLAS from one bench_gemm JSON file (stdlib only).

    OPENBLAS_CORETYPE=Haswell build/bench/bench_gemm --benchmark_repetitions=5 \
        --benchmark_enable_random_interleaving=true --benchmark_out=gemm.json \
        --benchmark_out_format=json && python3 tools/gemm_ratio.py gemm.json

For every shape and thread count: the median GFLOP/s of each library over
the repetitions and the ratio hpctrain/OpenBLAS (> 1: hpctrain faster), then
geometric means over the MLP training shapes (M, N, K >= 64) and over the
output layer's shapes (N or K = 10), the nine-GEMM training step as a time
ratio, the fused dense forward against separate passes, and %peak.

--best uses each benchmark's fastest repetition instead of the median (for a
machine shared with other jobs, where the median mostly measures them).
"""
import json
import math
import statistics
import sys
from collections import defaultdict

IMPLS = ("hpctrain", "openblas")


def load(path, best=False):
    with open(path) as f:
        doc = json.load(f)
    runs = defaultdict(list)  # run name -> [(real_time_us, gflops, peak)]
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue  # recompute medians from the repetitions themselves
        name = b.get("run_name", b["name"])
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        runs[name].append((b["real_time"] * scale, b.get("GFLOP/s", float("nan")),
                           b.get("%peak", float("nan"))))
    med = {}
    for name, xs in runs.items():
        if best:
            x = min(xs, key=lambda r: r[0])
            med[name] = (x[0], x[1], x[2], len(xs))
        else:
            med[name] = tuple(statistics.median(x[i] for x in xs) for i in range(3)) + (len(xs),)
    return doc.get("context", {}), med


def split(name):
    """'sgemm/fam/NN/MxNxK/impl/threads:T/real_time' -> (key, impl, threads)."""
    parts = [p for p in name.split("/") if p != "real_time"]
    impl = next((p for p in parts if p in IMPLS), None)
    threads = next((p.split(":")[1] for p in parts if p.startswith("threads:")), "?")
    key = "/".join(p for p in parts if p != impl and not p.startswith("threads:"))
    return key, impl, threads


def tnum(t):
    """Thread counts sort as numbers ('16' after '2')."""
    return int(t) if t.isdigit() else 0


def geomean(xs):
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


def main(argv):
    best = "--best" in argv[1:]
    args = [a for a in argv[1:] if a != "--best"]
    if len(args) != 1:
        sys.stderr.write("usage: gemm_ratio.py [--best] BENCH_JSON\n")
        return 2
    stat = "fastest repetition" if best else "median"
    ctx, med = load(args[0], best)
    print(f"statistic: {stat} over repetitions")
    peaks = sorted((k for k in ctx if k.startswith("fma_peak_gflops_")),
                   key=lambda k: int("".join(c for c in k if c.isdigit())))
    for k in ["hpctrain_isa", "hpctrain_blocking", "openblas_core",
              "openblas_parallel"] + peaks:
        if k in ctx:
            print(f"{k}: {ctx[k]}")
    if ctx.get("openblas_core", "").lower() == "prescott":
        print("note: OpenBLAS runs its SSE3 Prescott kernels on this CPU; "
              "set OPENBLAS_CORETYPE=Haswell for its AVX2 kernels "
              "(SkylakeX for AVX-512)")
    par = ctx.get("openblas_parallel", "openmp")
    if par != "openmp":
        print(f"note: OpenBLAS is its {par} build, not the OpenMP one "
              "(libopenblas0-openmp): in this process, which binds its OpenMP "
              "threads, its multi-threaded figures are not a fair peer")
    isa, core = ctx.get("hpctrain_isa", ""), ctx.get("openblas_core", "").lower()
    if (isa == "avx512") != (core == "skylakex"):
        print(f"note: hpctrain runs its {isa} table and OpenBLAS its {core} "
              "kernels: not the same vector width (OPENBLAS_CORETYPE=Haswell "
              "pairs with HPCTRAIN_ISA=avx2, SkylakeX with avx512)")

    table = defaultdict(dict)  # (key, threads) -> impl -> median tuple
    for name, m in med.items():
        key, impl, t = split(name)
        if impl:
            table[(key, t)][impl] = m

    print(f"\n{'shape':44} {'thr':>3} {'hpctrain':>9} {'openblas':>9} {'ratio':>6} {'reps':>4}"
          f"   ({stat} GFLOP/s; ratio = hpctrain/openblas)")
    groups = defaultdict(list)
    for (key, t) in sorted(table, key=lambda x: (x[0].split("/")[0], tnum(x[1]), x[0])):
        row = table[(key, t)]
        if not key.startswith("sgemm/") or len(row) < 2:
            continue
        h, o = row["hpctrain"], row["openblas"]
        ratio = o[0] / h[0]  # time ratio == GFLOP/s ratio
        print(f"{key[6:]:44} {t:>3} {h[1]:9.1f} {o[1]:9.1f} {ratio:6.2f} {h[3]:4d}")
        dims = [int(d) for d in key.split("/")[3].split("x")]
        fam = key.split("/")[1]
        if fam.startswith("mlp"):
            if min(dims) >= 64:
                groups[("MLP shapes, M,N,K >= 64", t)].append(ratio)
            if dims[1] == 10 or dims[2] == 10:
                groups[("output layer, N or K = 10", t)].append(ratio)
        else:
            groups[("square", t)].append(ratio)
    print("\ngeometric mean of hpctrain/openblas:")
    for (g, t), rs in sorted(groups.items(), key=lambda x: (x[0][0], tnum(x[0][1]))):
        print(f"  {g:30} threads {t}: {geomean(rs):.3f}  (min {min(rs):.2f}, {len(rs)} shapes)")

    print(f"\nnine GEMMs of one batch-256 training step (time, {stat}):")
    for (key, t), row in sorted(table.items(), key=lambda x: (x[0][0], tnum(x[0][1]))):
        if key.startswith("step9/") and len(row) == 2:
            h, o = row["hpctrain"][0], row["openblas"][0]
            print(f"  {key:22} threads {t}: hpctrain {h / 1e3:.2f} ms, openblas "
                  f"{o / 1e3:.2f} ms, hpctrain/openblas time {h / o:.3f}")

    print(f"\ndense forward relu(X*W + b), 256x1024x1024 (time, {stat}):")
    dense = defaultdict(dict)
    for (key, t), row in table.items():
        if key.startswith("dense_fwd/"):
            for impl, m in row.items():
                dense[t][key.split("/")[1] + "/" + impl] = m[0]
    for t, d in sorted(dense.items(), key=lambda x: tnum(x[0])):
        f, s = d.get("fused/hpctrain"), d.get("separate/hpctrain")
        if f and s:
            line = f"  threads {t}: fused {f:.0f} us, gemm+separate passes {s:.0f} us, speedup {s / f:.3f}"
            if "separate/openblas" in d:
                line += f"; openblas gemm+passes {d['separate/openblas']:.0f} us"
            print(line)

    print(f"\n%peak ({stat}) of square sizes:")
    for (key, t), row in sorted(table.items(), key=lambda x: (x[0][0], tnum(x[0][1]))):
        if key.startswith("sgemm/square") and "hpctrain" in row:
            pk = {i: row[i][2] for i in row}
            print(f"  {key[13:]:22} threads {t}: " +
                  ", ".join(f"{i} {v:.1f}%" for i, v in sorted(pk.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
