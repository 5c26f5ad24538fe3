#!/usr/bin/env python3
"""torch_reference.py - the registry's MLP and CNN trained by PyTorch, for
comparing epoch times with graphc's bench_mlp on the same machine.

Same networks, optimizer (Adam, lr 1e-3), batch (64) and data (Fashion-MNIST
IDX files, scaled to [0, 1]) as models/; the whole training set sits on the
device and each epoch draws a fresh permutation there, so the loop measures
the framework, not a data loader. Prints seconds per epoch (the first epoch
apart: it includes warm-up) and the test accuracy after the epochs.

  python3 bench/torch_reference.py [--data DIR] [--epochs N] [--device cuda|cpu]
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn


def idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(d, split):
    names = os.listdir(d)
    pick = lambda kind: os.path.join(d, sorted(n for n in names if n.startswith(f"{split}-{kind}"))[0])
    return idx(pick("images")), idx(pick("labels"))


def models():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    return {"mlp": mlp, "cnn": cnn}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    xtr = torch.tensor(xtr, dtype=torch.float32, device=dev).div_(255).unsqueeze(1)
    xte = torch.tensor(xte, dtype=torch.float32, device=dev).div_(255).unsqueeze(1)
    ytr = torch.tensor(ytr, dtype=torch.int64, device=dev)
    yte = torch.tensor(yte, dtype=torch.int64, device=dev)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"torch {torch.__version__} on {name}")
    for mname, net in models().items():
        torch.manual_seed(0)
        net = net.to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        n, batch, times = xtr.shape[0], 64, []
        for ep in range(a.epochs):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            perm = torch.randperm(n, device=dev)
            for s in range(n // batch):
                i = perm[s * batch:(s + 1) * batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xtr[i]), ytr[i])
                loss.backward()
                opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        with torch.no_grad():
            acc = sum((net(xte[k:k + 1000]).argmax(1) == yte[k:k + 1000]).sum().item()
                      for k in range(0, xte.shape[0], 1000)) / xte.shape[0]
        later = times[1:] or times
        print(f"{mname}: epoch {times[0]:.2f} s first, {min(later):.2f}-{max(later):.2f} s after; "
              f"test accuracy {acc:.4f} after {a.epochs} epoch(s)")


if __name__ == "__main__":
    main()
