#!/usr/bin/env python3
"""The parallel-efficiency model of docs/SCALING.md, for the Fashion-MNIST
benchmark step (784-1024-1024-10, batch 128, SGD + momentum, dropout).

Inputs measured on the 2-core development VM (docs/SCALING.md says how);
the GEMM partition efficiency comes from the driver's own grid choice
(src/gemm.c choose_grid, replicated here with the same cost formula and
the AVX2 blocking MR 6, NR 16, MC 678, KC 384, NC 4080). Barrier cost and
memory bandwidth of a 64-core 2-socket server are assumptions, given as a
range; nothing here is a measurement of such a machine.

With --isa avx512 the blocking is the AVX-512 table's (MR 8, NR 32, MC
680, KC 192, NC 4064) and the 1-thread inputs are those measured with it
(docs/SCALING.md, section 4).

usage: python3 tools/scaling_model.py [--isa avx2|avx512] [BATCH]
       (defaults: avx2, 128)
"""
import math
import sys

ARGS = sys.argv[1:]
ISA = "avx2"
if ARGS[:1] == ["--isa"] and len(ARGS) >= 2:
    ISA, ARGS = ARGS[1], ARGS[2:]
if ISA not in ("avx2", "avx512"):
    sys.exit(f"scaling_model.py: --isa {ISA}: must be avx2 or avx512")

MIN_FLOPS_PER_THREAD = 0.5e6       # src/gemm.c GEMM_TEAM_MIN_FLOPS_PER_THREAD
OPT_BYTES = 1863690 * 4 * 5   # w, g, m read; w, m written
T_LOSS = 5e-6          # s, softmax + cross-entropy, thread 0
BAR_2 = 0.36e-6        # s, OpenMP barrier at 2 threads (tools/sync_cost.c)

# measured here, 1 thread, per training step (469 steps per epoch)
if ISA == "avx2":
    MR, NR, MC, KC, NC = 6, 16, 678, 384, 4080
    T_GEMM1 = 20.7e-3  # s, the three big-GEMM kinds (profile, 1 thread)
    T_EW1 = 0.37e-3    # s, ReLU backward, bias gradients, dropout masks
    T_OPT1 = 2.09e-3   # s, optimiser pass (1 thread)
    SMALLN_RATE = 40e9  # flop/s of the small-N kernels (estimate)
else:
    MR, NR, MC, KC, NC = 8, 32, 680, 192, 4064
    # --profile at 1 thread: 3.66 ms per forward pass, 2.20 ms of data
    # gradients and 4.51 ms of weight gradients with the optimiser step
    # fused in; the step's share is taken as its traffic at the 28 GB/s
    # one core streams from L3 here (37.3 MB: 1.33 ms)
    T_OPT1 = OPT_BYTES / 28e9
    T_GEMM1 = (3.66 + 2.20 + 4.51) * 1e-3 - T_OPT1
    T_EW1 = 0.215e-3   # s, elementwise + dropout lines of the profile
    SMALLN_RATE = 60e9  # flop/s of the 16-lane small-N kernels (estimate)


def ceil_div(a, b):
    return -(-a // b)


def slice_kc(k):
    ns = ceil_div(k, KC + KC // 8)
    return ceil_div(k, ns), ns


def grid_cost(m, n, k, tm, tn):
    pm, pn = ceil_div(m, MR), ceil_div(n, NR)
    rows = ceil_div(pm, tm) * MR
    cols = ceil_div(pn, tn) * NR
    njc = ceil_div(cols, NC)
    return 2.0 * rows * cols * k + 8.0 * (rows * k * njc + cols * k / tm)


def gemm_plan(m, n, k, p):
    """(threads used, grid, partition efficiency, barriers) as the driver
    would choose them for a team of p."""
    units = ceil_div(m, MR) * ceil_div(n, NR)
    flops = 2.0 * m * n * k
    t = p
    by_work = flops / MIN_FLOPS_PER_THREAD
    if by_work < t:
        t = 1 if by_work < 1 else int(by_work)
    t = min(t, units)
    best = None
    for tm in range(t, 0, -1):
        if t % tm:
            continue
        tn = t // tm
        if tm > ceil_div(m, MR) or tn > ceil_div(n, NR):
            continue
        c = grid_cost(m, n, k, tm, tn)
        if best is None or c < best[0]:
            best = (c, tm, tn)
    if best is None:
        best = (grid_cost(m, n, k, 1, 1), 1, 1)
    c, tm, tn = best
    eff = grid_cost(m, n, k, 1, 1) / (t * c)
    _, ns = slice_kc(k)
    bars = ns if tm > 1 else 0
    return t, (tm, tn), eff, bars


BATCH = int(ARGS[0]) if ARGS else 128
B = BATCH
# the 1-thread times were measured at batch 128 and scale with the rows
T_GEMM1 *= B / 128
T_EW1 *= B / 128
BIG = [  # (m, n, k) of the packed GEMMs of one step
    (B, 1024, 784), (B, 1024, 1024),              # forward, layers 1, 2
    (784, 1024, B), (1024, 1024, B),              # weight gradients 1, 2
    (B, 1024, 1024),                              # data gradient of 2
    (B, 1024, 10),                                # data gradient of 3 (K=10)
]
SMALLN = [(B, 10, 1024), (1024, 10, B)]           # small-N: fwd 3, dW 3
TEAM_BARRIERS = 14     # per step, src/train.c (dropout, 3 fwd, loss, 8 bwd, optim)


def step_time(p, bar_cost, bw):
    flops_big = sum(2.0 * m * n * k for m, n, k in BIG)
    t_gemm = 0.0
    inner = 0
    for m, n, k in BIG:
        t, _, eff, bars = gemm_plan(m, n, k, p)
        share = 2.0 * m * n * k / flops_big
        t_gemm += T_GEMM1 * share / (t * eff)
        inner += bars
    t_small = 0.0
    for m, n, k in SMALLN:
        t, _, eff, _ = gemm_plan(m, n, k, p)
        t_small += 2.0 * m * n * k / SMALLN_RATE / (t * eff)
    t_ew = T_EW1 / p
    t_opt = max(T_OPT1 / p, OPT_BYTES / bw(p))
    t_bar = (TEAM_BARRIERS + inner) * bar_cost(p)
    return t_gemm + t_small + t_ew + t_opt + T_LOSS + t_bar, \
        dict(gemm=t_gemm, small=t_small, ew=t_ew, opt=t_opt, bar=t_bar,
             barriers=TEAM_BARRIERS + inner)


def main():
    # barrier cost on 2 sockets: optimistic = tree-like, log2 growth from
    # the measured 2-thread cost; pessimistic = centralised counter,
    # ~0.1 us per arriving thread (cross-socket line transfers)
    bar_opt = lambda p: 0.0 if p == 1 else BAR_2 * max(1.0, math.log2(p))
    bar_pes = lambda p: 0.0 if p == 1 else max(BAR_2, 0.1e-6 * p)
    # memory bandwidth: ~18 GB/s per core (the optimiser's rate here) up to a 2-socket total of 300 GB/s
    # (optimistic) or 150 GB/s (pessimistic, remote half of interleaved pages)
    bw_opt = lambda p: min(18e9 * p, 300e9)
    bw_pes = lambda p: min(18e9 * p, 150e9)
    t1, _ = step_time(1, bar_opt, bw_opt)
    print(f"batch {BATCH}, {ISA} blocking and 1-thread inputs")
    print("grid per GEMM (threads used, tm x tn, partition efficiency):")
    for p in (2, 8, 16, 32, 64):
        row = []
        for m, n, k in BIG + SMALLN:
            t, (tm, tn), eff, _ = gemm_plan(m, n, k, p)
            row.append(f"{m}x{n}x{k}: {t} ({tm}x{tn}) {eff:.2f}")
        print(f"  P={p:2d}  " + "; ".join(row))
    print()
    print(" P   step ms (opt/pes)  speed-up (opt/pes)  efficiency (opt/pes)"
          "   gemm  small  opt  barriers(us)")
    for p in (1, 2, 4, 8, 16, 32, 64):
        to, do = step_time(p, bar_opt, bw_opt)
        tp, dp = step_time(p, bar_pes, bw_pes)
        print(f"{p:2d}   {to*1e3:6.2f} / {tp*1e3:6.2f}     "
              f"{t1/to:5.1f} / {t1/tp:5.1f}        "
              f"{100*t1/to/p:5.1f}% / {100*t1/tp/p:5.1f}%     "
              f"{do['gemm']*1e3:5.2f} {do['small']*1e3:5.2f} "
              f"{do['opt']*1e3:5.2f}  {do['bar']*1e6:5.1f}-{dp['bar']*1e6:5.1f}"
              f" ({do['barriers']})")


if __name__ == "__main__":
    main()
