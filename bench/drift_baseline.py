#!/usr/bin/python3
"""Baseline of bench/drift: the straightforward numpy/scipy drift check, feature by feature.

usage: /usr/bin/python3 bench/drift_baseline.py FEATURES REF_ROWS CUR_ROWS SEED

For each feature: scipy.stats.ks_2samp(reference, current), PSI and Jensen-Shannon distance
(base 2) on np.histogram counts over 10 bins at the reference's deciles. The data are the
same bit for bit as bench/drift_bench.cc's (splitmix64 hash -> triangular variate), generated
one column at a time and not timed; only the statistics are timed. Prints one JSON document:
seconds, peak RSS, the raw data a production version of this loop holds, and the decisions
(PSI >= 0.1, JS >= 0.1, KS Bonferroni-adjusted p < 0.05).
Needs Debian's python3-numpy and python3-scipy (/usr/bin/python3).
"""
import json
import resource
import sys
import time

import numpy as np
from scipy import stats
from scipy.spatial import distance

PSI_EMPTY_BIN_SHARE = 1e-4
BINS = 10
U64 = np.uint64


def splitmix64(x):
    x = x + U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


def unit(key):
    return (splitmix64(key) >> U64(11)).astype(np.float64) * 2.0 ** -53


def column(seed, stream, feature, rows):
    base = (seed * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    key = U64(base ^ (stream << 56) ^ (feature << 32)) ^ np.arange(rows, dtype=U64)
    values = unit(key) + unit(key ^ U64(1 << 55)) - 1.0
    if stream == 1 and feature % 10 == 0:
        return values + 0.3
    if stream == 1 and feature % 10 == 5:
        return values * 1.5
    return values


def check(reference, current):
    ks = stats.ks_2samp(reference, current)
    edges = np.quantile(reference, np.linspace(0, 1, BINS + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(reference, edges)[0] / len(reference)
    q = np.histogram(current, edges)[0] / len(current)
    js = distance.jensenshannon(p, q, base=2)
    p = np.where(p == 0, PSI_EMPTY_BIN_SHARE, p)
    q = np.where(q == 0, PSI_EMPTY_BIN_SHARE, q)
    psi = np.sum((q - p) * np.log(q / p))
    return float(psi), float(js), float(ks.pvalue)


def main():
    features, reference_rows, current_rows, seed = map(int, sys.argv[1:5])
    seconds = 0.0
    psi, js, p_values = [], [], []
    for f in range(features):
        reference = column(seed, 0, f, reference_rows)
        current = column(seed, 1, f, current_rows)
        start = time.perf_counter()
        result = check(reference, current)
        seconds += time.perf_counter() - start
        psi.append(result[0])
        js.append(result[1])
        p_values.append(result[2])
    adjusted = np.minimum(1.0, np.array(p_values) * features)
    print(json.dumps({
        "check_seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
        "raw_data_bytes": (reference_rows + current_rows) * features * 8,
        "decisions": {
            "psi": [i for i, v in enumerate(psi) if v >= 0.1],
            "js": [i for i, v in enumerate(js) if v >= 0.1],
            "ks_bonferroni": [i for i, v in enumerate(adjusted) if v < 0.05],
        },
    }))


if __name__ == "__main__":
    main()
