#!/usr/bin/env python3
"""PyTorch reference for hpctrain's MLP runs: same data, network, init and
optimiser settings, so accuracy and seconds per epoch compare in one place.

Run with Debian's interpreter (python3-torch):
  /usr/bin/python3 bench/torch_mlp.py --arch 784-1024-1024-10 --dropout 0.5 \
      --l2 1e-4 --lr 0.05 --momentum 0.9 --batch 128 --epochs 10 --threads 1

Matching hpctrain's conventions:
  * weights U(-sqrt(6/fan_in), +sqrt(6/fan_in)), biases 0 (hpctrain's init);
  * --l2 is PyTorch's weight_decay for SGD, applied to weights only
    (hpctrain regularises weights, not biases, by default);
  * inverted dropout after each hidden ReLU; softmax cross-entropy, mean
    over the batch; the final partial batch is used; pixels / 255.
"""
import argparse
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
    args = ap.parse_args()

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
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
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
        with torch.no_grad():
            acc = (forward(xte, False).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch:3d}  loss {total / n:.4f}  test_acc {acc:.4f}  "
              f"{secs:.2f} s  {n / secs:.0f} samples/s", flush=True)
    print(f"final test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
