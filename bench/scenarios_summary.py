#!/usr/bin/python3
"""Summary of several bench/scenarios runs (ctd-scenarios --json files, one per seed offset).

usage: scenarios_summary.py RESULTS.json...

For each drift stream and decided policy: mean prequential accuracy over the runs, its gap to
the best periodic policy of the same run (mean, min, max), retrainings against the third of that
policy's, and in how many runs the accuracy/retraining target was met; for each stable stream the
starts of each decided policy per run. Standard library only.
"""
import json
import sys


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    rows = {}
    for run in runs:
        for name, stream in run["streams"].items():
            if stream["stable"]:
                continue
            pols = stream["policies"]
            best = max((p for p in pols if p["policy"].startswith("periodic-")),
                       key=lambda p: p["accuracy"])
            for p in pols:
                r = rows.setdefault((name, p["policy"]), {"acc": [], "gap": [], "re": [], "met": 0,
                                                          "best": [], "best_re": []})
                r["acc"].append(p["accuracy"])
                r["gap"].append((best["accuracy"] - p["accuracy"]) * 100)
                r["re"].append(p["retrainings"])
                r["best"].append(best["policy"])
                r["best_re"].append(best["retrainings"])
                r["met"] += (best["accuracy"] - p["accuracy"] <= 0.01
                             and p["retrainings"] <= best["retrainings"] / 3)
    n = len(runs)
    print(f"over {n} run(s): accuracy mean; gap to the best periodic policy of each run in points "
          "(mean [min, max]); retrainings (mean); runs meeting the target (gap <= 1, "
          "retrainings <= a third of the best periodic's)")
    print(f"{'stream':8} {'policy':14} {'accuracy':>8} {'gap':>20} {'retrains':>8} {'met':>5}")
    for (name, policy), r in rows.items():
        gap = f"{sum(r['gap']) / n:5.2f} [{min(r['gap']):5.2f}, {max(r['gap']):5.2f}]"
        print(f"{name:8} {policy:14} {sum(r['acc']) / n:8.4f} {gap:>20} "
              f"{sum(r['re']) / n:8.1f} {r['met']:>3}/{n}")
    for name in sorted({k for run in runs for k, s in run["streams"].items() if s["stable"]}):
        counts = {}
        for run in runs:
            for p in run["streams"].get(name, {}).get("policies", []):
                counts.setdefault(p["policy"], []).append(p["retrainings"])
        print(f"{name}: starts per run (target 0): " +
              ", ".join(f"{k} {'/'.join(map(str, v))}" for k, v in counts.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
