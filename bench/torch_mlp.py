#!/usr/bin/env python3
"""PyTorch reference for hpctrain's MLP runs: same data, network, init and
optimiser settings, so accuracy and seconds per epoch compare in one place.

Run with Debian's interpreter (python3-torch):
  /usr/bin/python3 bench/torch_mlp.py --arch 784-1024-1024-10 --dropout 0.5 \
      --l2 1e-4 --lr 0.05 --momentum 0.9 --batch 128 --epochs 10 --threads 1

Timing (bench/compare_torch.sh uses this): --timing-epochs K runs K epochs
without the test evaluation and prints one "timing:" line with the median
seconds per epoch and samples/s. --blas openmp|pthread re-executes the script
with the OpenMP or the pthread build of Debian's OpenBLAS first on the library
path (the dynamic loader picks the BLAS before Python starts); the pthread
build is pinned to one thread (OPENBLAS_NUM_THREADS=1) so it never
oversubscribes the intra-op threads. --coretype NAME sets OPENBLAS_CORETYPE:
OpenBLAS 0.3.21 does not recognise this VM's Sapphire Rapids and falls back to
its Prescott (SSE3) kernels, about 2.5x slower than Haswell (AVX2) or SkylakeX
(AVX-512) ones. The loaded BLAS and its kernel core are printed. PyTorch's
best 2-core setting here is --threads 2 --blas openmp --coretype SkylakeX.

Matching hpctrain's conventions:
  * weights U(-sqrt(6/fan_in), +sqrt(6/fan_in)), biases 0 (hpctrain's init);
  * --l2 is PyTorch's weight_decay for SGD, applied to weights only
    (hpctrain regularises weights, not biases, by default);
  * inverted dropout after each hidden ReLU; softmax cross-entropy, mean
    over the batch; the final partial batch is used; pixels / 255.
"""
import argparse
import statistics
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def find(datadir, name):
    for cand in (name, name + ".gz"):
        p = os.path.join(datadir, cand)
        if os.path.exists(p):
            return p
    sys.exit(f"torch_mlp.py: {name}: not found in {datadir}")


BLAS_DIRS = {"openmp": "/usr/lib/x86_64-linux-gnu/openblas-openmp",
             "pthread": "/usr/lib/x86_64-linux-gnu/openblas-pthread"}


def reexec_for_blas(which, coretype):
    """Restart with the chosen OpenBLAS build ahead on the library path and
    the chosen kernel core (both are read when the library loads)."""
    want = f"{which}/{coretype}"
    if (which == "default" and not coretype) or \
            os.environ.get("TORCH_MLP_BLAS") == want:
        return
    env = dict(os.environ)
    env["TORCH_MLP_BLAS"] = want
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    if which != "default":
        d = BLAS_DIRS[which]
        if not os.path.isdir(d):
            sys.exit(f"torch_mlp.py: --blas {which}: {d} not found "
                     f"(apt-get install libopenblas0-{which})")
        env["LD_LIBRARY_PATH"] = d + (":" + env["LD_LIBRARY_PATH"]
                                      if env.get("LD_LIBRARY_PATH") else "")
        if which == "pthread":
            env["OPENBLAS_NUM_THREADS"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def loaded_blas():
    """The BLAS shared objects this process really mapped, and the kernel
    core OpenBLAS chose."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in os.path.basename(path):
                libs.add(path)
    core = ""
    for path in sorted(libs):
        if "openblas" in os.path.basename(path):
            try:
                import ctypes
                fn = ctypes.CDLL(path).openblas_get_corename
                fn.restype = ctypes.c_char_p
                core = f" (OpenBLAS core {fn().decode()})"
            except (OSError, AttributeError):
                pass
            break
    return (", ".join(sorted(libs)) or "none mapped") + core


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--arch", default="784-1024-1024-10")
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--schedule", choices=["constant", "cosine"],
                    default="constant",
                    help="cosine: lr*(1+cos(pi*epoch/epochs))/2 per epoch, "
                         "as hpctrain's --schedule cosine")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--deterministic", action="store_true")
    ap.add_argument("--timing-epochs", type=int, default=0,
                    help="time this many epochs (no test evaluation); "
                         "prints a 'timing:' line with the medians")
    ap.add_argument("--blas", choices=["default", "openmp", "pthread"],
                    default="default",
                    help="which build of Debian's OpenBLAS to load")
    ap.add_argument("--coretype", default="",
                    help="OPENBLAS_CORETYPE (e.g. Haswell, SkylakeX)")
    args = ap.parse_args()
    reexec_for_blas(args.blas, args.coretype)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.deterministic:
        torch.use_deterministic_algorithms(True)
    xtr = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte"))
                           .reshape(-1, 784).astype(np.float32) / 255.0)
    ytr = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte"))
                           .astype(np.int64))
    xte = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte"))
                           .reshape(-1, 784).astype(np.float32) / 255.0)
    yte = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte"))
                           .astype(np.int64))

    sizes = [int(s) for s in args.arch.split("-")]
    layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
    with torch.no_grad():
        for lin in layers:
            bound = (6.0 / lin.in_features) ** 0.5
            lin.weight.uniform_(-bound, bound)
            lin.bias.zero_()

    def forward(x, train):
        for i, lin in enumerate(layers):
            x = lin(x)
            if i + 1 < len(layers):
                x = F.relu(x)
                if train and args.dropout > 0:
                    x = F.dropout(x, args.dropout, training=True)
        return x

    weights = [l.weight for l in layers]
    biases = [l.bias for l in layers]
    opt = torch.optim.SGD([{"params": weights, "weight_decay": args.l2},
                           {"params": biases, "weight_decay": 0.0}],
                          lr=args.lr, momentum=args.momentum)
    n = xtr.shape[0]
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} "
          f"arch={args.arch} dropout={args.dropout} l2={args.l2} lr={args.lr} "
          f"momentum={args.momentum} batch={args.batch} schedule={args.schedule}", flush=True)
    print(f"blas: {loaded_blas()}", flush=True)
    acc = 0.0
    timing = args.timing_epochs > 0
    secs_all = []
    for epoch in range(1, (args.timing_epochs if timing else args.epochs) + 1):
        if args.schedule == "cosine":
            import math
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1)
                                                        / args.epochs))
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total = 0.0
        for s in range(0, n, args.batch):
            idx = perm[s:s + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(forward(xtr[idx], True), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        secs = time.perf_counter() - t0
        secs_all.append(secs)
        if timing:
            print(f"epoch {epoch:3d}  loss {total / n:.4f}  {secs:.3f} s  "
                  f"{n / secs:.0f} samples/s", flush=True)
            continue
        with torch.no_grad():
            acc = (forward(xte, False).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch:3d}  loss {total / n:.4f}  test_acc {acc:.4f}  "
              f"{secs:.2f} s  {n / secs:.0f} samples/s", flush=True)
    if timing:
        med = statistics.median(secs_all)
        print(f"timing: threads {torch.get_num_threads()} epochs "
              f"{len(secs_all)} median {med:.3f} s/epoch "
              f"{n / med:.0f} samples/s")
        return
    print(f"final test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
