#!/usr/bin/python3
"""Test fixtures and oracles for ctd-train, run with Debian's /usr/bin/python3 (numpy, torch).

  fixtures.py snapshot TASK OUT [--rows N] [--seed S] [--nan-fraction F] [--positive-fraction P]
      writes a ctd snapshot (safetensors) of separable synthetic data for TASK
      (binary | multiclass | regression), with two categorical features.
  fixtures.py user-model OUT WIDTH OUTPUTS
      scripts a small user module (torch.jit.script) taking the ctd input layout.
  fixtures.py nan-model OUT
      scripts a module whose forward() returns sigmoid of the first column, except NaN where it
      is 99 and 1.5 where it is 98 (for the checks of a scorer's outputs).
  fixtures.py predict MODEL SNAPSHOT
      loads MODEL with torch.jit.load, scores every snapshot row with forward(), prints JSON
      {"scores": [...]} (flattened).
  fixtures.py same-weights A B
      exit 0 when both TorchScript files hold bit-identical parameters and buffers.
  fixtures.py read-snapshot FILE
      prints the snapshot's metadata and column sums as JSON, verifying the content hash.
"""
import hashlib
import json
import struct
import sys

import numpy as np


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, array) in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    dtypes = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "I32": np.int32, "U8": np.uint8}
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        tensors[name] = np.frombuffer(data[b:end], dtype=dtypes[e["dtype"]]).reshape(e["shape"])
    return header.get("__metadata__", {}), tensors, data


def schema_json(info):
    keys = ["categorical_features", "num_classes", "numeric_features", "task"]
    return json.dumps({k: info[k] for k in keys}, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False)


def make_snapshot(task, out, rows=4000, seed=1, nan_fraction=0.0, positive_fraction=None):
    rng = np.random.default_rng(seed)
    dn = 6
    x = rng.normal(size=(rows, dn)).astype(np.float32)
    colours = ["blue", "green", "red"]
    shapes = ["round", "square"]
    cat = np.stack([rng.integers(0, 4, rows), rng.integers(0, 3, rows)], axis=1).astype(np.int64)
    cat_effect = np.array([0.0, 1.5, -1.5, 0.5])[cat[:, 0]]
    score = x[:, 0] * 2.0 - x[:, 1] + 0.5 * x[:, 2] + cat_effect
    if task == "binary":
        cut = 0.0 if positive_fraction is None else np.quantile(score, 1 - positive_fraction)
        # With a positive fraction, labels are noisy near the boundary, so that a model must
        # trade minority recall for accuracy.
        noisy = score + (0 if positive_fraction is None else rng.normal(scale=1.5, size=rows))
        label, k = (noisy > cut).astype(np.float32), 2
    elif task == "multiclass":
        label, k = np.digitize(score, [-1.0, 1.0]).astype(np.float32), 3
    else:
        label, k = (3.0 * score + 10.0 + rng.normal(scale=0.1, size=rows)).astype(np.float32), 0
    if nan_fraction > 0:
        mask = rng.random(size=x.shape) < nan_fraction
        mask[:, 0] = False
        x[mask] = np.nan
    seq = np.arange(1, rows + 1, dtype=np.int64)
    info = {
        "format": "ctd.snapshot/1", "snapshot_id": "fixture/1-%d" % rows, "pipeline": "fixture",
        "task": task, "num_classes": k, "seq_first": 1, "seq_last": rows, "rows": rows,
        "event_time_from_ms": None, "event_time_to_ms": None,
        "numeric_features": ["x%d" % i for i in range(dn)],
        "categorical_features": [{"name": "colour", "vocabulary": colours},
                                 {"name": "shape", "vocabulary": shapes}],
        "created_at": "2026-01-01T00:00:00Z",
    }
    tensors = {
        "numeric": ("F32", x), "categorical": ("I64", cat), "label": ("F32", label),
        "weight": ("F32", np.ones(rows, dtype=np.float32)), "seq": ("I64", seq),
        "event_time": ("I64", 1_700_000_000_000 + seq * 1000),
    }
    data = b"".join(np.ascontiguousarray(a).tobytes() for _, a in tensors.values())
    info["content_sha256"] = hashlib.sha256(schema_json(info).encode() + data).hexdigest()
    write_safetensors(out, tensors, {"ctd.snapshot": json.dumps(info)})


def user_model(out, width, outputs):
    import torch

    class UserModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(width, 16)
            self.out = torch.nn.Linear(16, outputs)

        def logits(self, x):
            return self.out(torch.tanh(self.hidden(torch.nan_to_num(x, 0.0))))

        def forward(self, x):
            return torch.sigmoid(self.logits(x)).squeeze(1)

    torch.manual_seed(0)
    m = torch.jit.script(UserModel())
    m.save(out)


def nan_model(out):
    import torch

    class NanModel(torch.nn.Module):
        def forward(self, x):
            p = torch.sigmoid(torch.nan_to_num(x[:, 0], 0.0))
            p = torch.where(x[:, 0] == 98.0, torch.full_like(p, 1.5), p)
            return torch.where(x[:, 0] == 99.0, torch.full_like(p, float("nan")), p)

    torch.jit.script(NanModel()).save(out)


def model_input(tensors):
    return np.concatenate([tensors["numeric"], tensors["categorical"].astype(np.float32)], axis=1)


def predict(model, snapshot):
    import torch
    _, tensors, _ = read_safetensors(snapshot)
    m = torch.jit.load(model)
    m.eval()
    with torch.no_grad():
        scores = m(torch.from_numpy(model_input(tensors).copy())).float().numpy()
    print(json.dumps({"scores": scores.reshape(-1).tolist()}))


def relayout(src, permuted_out, expected_out):
    """Writes `src` in another layout (numeric columns reversed, the colour vocabulary
    reversed with a new value "purple" on every 10th row, shape dropped) and the input a model
    trained on `src` should see for it (the original layout; purple and every shape: code 0)."""
    meta, tensors, _ = read_safetensors(src)
    info = json.loads(meta["ctd.snapshot"])
    numeric = tensors["numeric"]
    cat = tensors["categorical"].copy()
    colours = info["categorical_features"][0]["vocabulary"]
    purple = (tensors["seq"] % 10) == 0
    reversed_colours = list(reversed(colours)) + ["purple"]
    colour = cat[:, 0]
    new_colour = np.where(colour == 0, 0, len(colours) + 1 - colour)
    new_colour[purple] = len(reversed_colours)
    permuted = dict(info)
    permuted["numeric_features"] = list(reversed(info["numeric_features"]))
    permuted["categorical_features"] = [{"name": "colour", "vocabulary": reversed_colours}]
    out = {"numeric": ("F32", numeric[:, ::-1].copy()),
           "categorical": ("I64", new_colour.reshape(-1, 1).astype(np.int64))}
    for name in ("label", "weight", "seq", "event_time"):
        out[name] = ("F32" if name in ("label", "weight") else "I64", tensors[name])
    write_safetensors(permuted_out, out, {"ctd.snapshot": json.dumps(permuted)})
    expected_cat = cat.copy()
    expected_cat[purple, 0] = 0
    expected_cat[:, 1] = 0
    expected = {"numeric": ("F32", numeric), "categorical": ("I64", expected_cat)}
    for name in ("label", "weight", "seq", "event_time"):
        expected[name] = ("F32" if name in ("label", "weight") else "I64", tensors[name])
    write_safetensors(expected_out, expected, {"ctd.snapshot": json.dumps(info)})


def same_weights(a, b):
    import torch
    ma, mb = torch.jit.load(a), torch.jit.load(b)
    sa = dict(ma.named_parameters()) | dict(ma.named_buffers())
    sb = dict(mb.named_parameters()) | dict(mb.named_buffers())
    if sa.keys() != sb.keys():
        print("different parameter names", sorted(sa), sorted(sb))
        return 1
    for name in sa:
        if not torch.equal(sa[name], sb[name]):
            print("parameter", name, "differs; max abs diff",
                  (sa[name] - sb[name]).abs().max().item())
            return 1
    return 0


def read_snapshot(path):
    meta, tensors, data = read_safetensors(path)
    info = json.loads(meta["ctd.snapshot"])
    digest = hashlib.sha256(schema_json(info).encode() + data).hexdigest()
    print(json.dumps({
        "info": info, "hash_ok": digest == info["content_sha256"],
        "rows": int(tensors["label"].shape[0]),
        "numeric_nansum": float(np.nansum(tensors["numeric"].astype(np.float64))),
        "numeric_nan": int(np.isnan(tensors["numeric"]).sum()),
        "categorical": tensors["categorical"].tolist(),
        "label_sum": float(tensors["label"].astype(np.float64).sum()),
        "weight_sum": float(tensors["weight"].astype(np.float64).sum()),
        "seq": tensors["seq"].tolist(),
        "event_time": tensors["event_time"].tolist(),
    }))


def main(argv):
    cmd = argv[1]
    if cmd == "snapshot":
        opts = dict(zip(argv[4::2], argv[5::2]))
        make_snapshot(argv[2], argv[3], int(opts.get("--rows", 4000)), int(opts.get("--seed", 1)),
                      float(opts.get("--nan-fraction", 0.0)),
                      float(opts["--positive-fraction"]) if "--positive-fraction" in opts else None)
    elif cmd == "user-model":
        user_model(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "nan-model":
        nan_model(argv[2])
    elif cmd == "predict":
        predict(argv[2], argv[3])
    elif cmd == "relayout":
        relayout(argv[2], argv[3], argv[4])
    elif cmd == "same-weights":
        return same_weights(argv[2], argv[3])
    elif cmd == "read-snapshot":
        read_snapshot(argv[2])
    else:
        print("unknown command", cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
