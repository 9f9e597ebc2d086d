#!/usr/bin/python3
"""Training benchmark data and Python baselines for bench/train (Debian's python3-torch).

  train_baseline.py data OUT ROWS FEATURES SEED
      writes a ctd snapshot (safetensors) of ROWS x FEATURES float32 features and a binary
      label from a fixed random linear rule with noise.
  train_baseline.py train SNAPSHOT LOOP EPOCHS BATCH THREADS SEED HIDDEN
      trains the same MLP as ctd-train's built-in one (Linear+ReLU per hidden size, then
      Linear to one logit; Adam lr 1e-3; BCEWithLogitsLoss) on the snapshot's training split
      (the same SplitMix64 split as ctd), and prints one JSON line per epoch with the training
      samples/s (the epoch's training loop only, as ctd-train reports it).
      LOOP: "dataloader" - the usual loop: TensorDataset + DataLoader(shuffle=True);
            "tensor"     - a hand-tuned loop: a randperm per epoch and index_select batches.
"""
import hashlib
import json
import struct
import sys
import time

import numpy as np


def splitmix_validation(seq, fraction):
    z = (seq.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return z.astype(np.float64) < fraction * 18446744073709551616.0


def write_snapshot(out, rows, features, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    w = rng.normal(size=features)
    label = ((x @ w + rng.normal(scale=0.5, size=rows)) > 0).astype(np.float32)
    seq = np.arange(1, rows + 1, dtype=np.int64)
    info = {
        "format": "ctd.snapshot/1", "snapshot_id": "bench/1-%d" % rows, "pipeline": "bench",
        "task": "binary", "num_classes": 2, "seq_first": 1, "seq_last": rows, "rows": rows,
        "event_time_from_ms": None, "event_time_to_ms": None,
        "numeric_features": ["f%d" % i for i in range(features)], "categorical_features": [],
        "created_at": "2026-01-01T00:00:00Z",
    }
    tensors = [("numeric", "F32", x), ("categorical", "I64", np.zeros((rows, 0), np.int64)),
               ("label", "F32", label), ("weight", "F32", np.ones(rows, np.float32)),
               ("seq", "I64", seq), ("event_time", "I64", seq * 1000)]
    header, offset, blobs = {}, 0, []
    for name, dtype, a in tensors:
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    schema = json.dumps({k: info[k] for k in ["categorical_features", "num_classes",
                                             "numeric_features", "task"]},
                        separators=(",", ":"), sort_keys=True)
    info["content_sha256"] = hashlib.sha256(schema.encode() + b"".join(blobs)).hexdigest()
    header["__metadata__"] = {"ctd.snapshot": json.dumps(info)}
    text = json.dumps(header).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_snapshot(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    def tensor(name, dtype):
        b, e = header[name]["data_offsets"]
        return np.frombuffer(data[b:e], dtype=dtype).reshape(header[name]["shape"])
    return tensor("numeric", np.float32), tensor("label", np.float32), tensor("seq", np.int64)


def train(snapshot, loop, epochs, batch, threads, seed, hidden):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y, seq = read_snapshot(snapshot)
    keep = ~splitmix_validation(seq, 0.2)
    x = torch.from_numpy(x[keep].copy())
    y = torch.from_numpy(y[keep].copy())
    mean, std = x.mean(0), x.std(0)
    x = (x - mean) / std
    layers, width = [], x.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    n = x.shape[0]
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        total = 0.0
        if loop == "dataloader":
            loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                                 batch_size=batch, shuffle=True)
            batches = iter(loader)
        else:
            perm = torch.randperm(n)
            batches = ((x.index_select(0, idx), y.index_select(0, idx))
                       for idx in perm.split(batch))
        steps = 0
        for xb, yb in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
            total += loss.item()
            steps += 1
        seconds = time.perf_counter() - start
        print(json.dumps({"loop": loop, "epoch": epoch, "loss": total / steps,
                          "samples_per_s": n / seconds}), flush=True)


def main(argv):
    if argv[1] == "data":
        write_snapshot(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif argv[1] == "train":
        train(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), int(argv[7]),
              [int(h) for h in argv[8].split(",")])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
