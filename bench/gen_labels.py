#!/usr/bin/python3
"""Writes N deterministic labeled samples as JSON lines, the input of bench/ingest.

usage: gen_labels.py N OUT [--seed S] [--keyed]

Each line is one message of ctd's labels format: {"id": "s<i>", "event_time": <epoch ms>,
"features": {"f0": x, ..., "f15": x}, "label": 0|1}, with 16 numeric features drawn from a
seeded normal distribution and rounded to 6 decimals. With --keyed each line is prefixed with
"<key>\t" (the sample id) so that `kcat -K '\t'` hashes the messages evenly over partitions.
Standard library only, so any python3 works.
"""
import argparse
import json
import random

FEATURES = 16
START_MS = 1_700_000_000_000  # 2023-11-14


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keyed", action="store_true")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    names = [f"f{j}" for j in range(FEATURES)]
    weights = [rng.uniform(-1, 1) for _ in names]
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with open(args.out, "w", buffering=1 << 20) as out:
        for i in range(args.n):
            values = [round(rng.gauss(0.0, 1.0), 6) for _ in names]
            score = sum(w * v for w, v in zip(weights, values))
            message = {
                "id": f"s{i}",
                "event_time": START_MS + i * 10,
                "features": dict(zip(names, values)),
                "label": 1 if score + rng.gauss(0.0, 0.5) > 0 else 0,
            }
            line = dumps(message)
            if args.keyed:
                line = f"s{i}\t{line}"
            out.write(line)
            out.write("\n")


if __name__ == "__main__":
    main()
