#!/usr/bin/python3
"""Times torch.nn.functional.dropout on a 256 x 1024 float32 tensor on one
thread (training mode, p = 0.5, out of place) and prints ns per element,
for comparison with bench_elementwise's dropout_fwd_256x1024 (the same
shape, out of place, mask bits written as well).

Run with the Debian python3-torch: /usr/bin/python3 bench/dropout_torch.py
Prints the median of 15 repetitions of 200 calls each."""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows, cols, p = 256, 1024, 0.5
    x = torch.randn(rows, cols, dtype=torch.float32)
    calls, reps = 200, 15
    for _ in range(50):  # warm up: allocator, caches
        F.dropout(x, p, training=True)
    per_elem = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            F.dropout(x, p, training=True)
        t1 = time.perf_counter()
        per_elem.append((t1 - t0) / calls / (rows * cols) * 1e9)
    med = statistics.median(per_elem)
    print(f"torch {torch.__version__} F.dropout {rows}x{cols} p={p} threads=1: "
          f"median {med:.3f} ns/element (min {min(per_elem):.3f}, "
          f"max {max(per_elem):.3f}, {reps} reps x {calls} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
