#!/usr/bin/python3
"""Test oracle for ctd's drift statistics: the same statistics computed with numpy/scipy.

usage: /usr/bin/python3 drift_oracle.py REQUEST.json   (prints one JSON document)

The request is {"op": ..., ...}; see the handlers below. Missing numeric values are null.
Needs Debian's python3-numpy and python3-scipy (the interpreter /usr/bin/python3).
"""
import json
import sys

import numpy as np
from scipy import special, stats
from scipy.spatial import distance

PSI_EMPTY_BIN_SHARE = 1e-4  # the same constant as ctd (Evidently's)


def floats(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def psi(ref_counts, cur_counts):
    p = np.asarray(ref_counts, float) / np.sum(ref_counts)
    q = np.asarray(cur_counts, float) / np.sum(cur_counts)
    p = np.where(p == 0, PSI_EMPTY_BIN_SHARE, p)
    q = np.where(q == 0, PSI_EMPTY_BIN_SHARE, q)
    return float(np.sum((q - p) * np.log(q / p)))


def shares_stats(ref_counts, cur_counts):
    p = np.asarray(ref_counts, float) / np.sum(ref_counts)
    q = np.asarray(cur_counts, float) / np.sum(cur_counts)
    return {
        "psi": psi(ref_counts, cur_counts),
        "jensen_shannon": float(distance.jensenshannon(ref_counts, cur_counts, base=2)),
        "linf": float(np.max(np.abs(p - q))),
    }


def chi2(ref_counts, cur_counts):
    table = np.array([ref_counts, cur_counts], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return {"chi2": 0.0, "chi2_p_value": 1.0, "chi2_dof": 0}
    statistic, p, dof, _ = stats.chi2_contingency(table, correction=False)
    return {"chi2": float(statistic), "chi2_p_value": float(p), "chi2_dof": int(dof)}


def ks_exact(a, b):
    result = stats.ks_2samp(a, b, method="asymp")
    n, m = len(a), len(b)
    en = n * m / (n + m)
    return {
        "ks_statistic": float(result.statistic),
        # Our p-value: Kolmogorov's limit distribution at sqrt(en) D.
        "ks_p_value": float(special.kolmogorov(np.sqrt(en) * result.statistic)),
        # scipy's own asymptotic p-value (kstwo.sf(D, round(en))), for information.
        "ks_p_value_scipy_asymp": float(result.pvalue),
    }


def numeric(request):
    """Quantile bins of the reference, binned statistics, and the exact ones on raw data."""
    ref_all, cur_all = floats(request["reference"]), floats(request["current"])
    ref = ref_all[np.isfinite(ref_all)]
    cur = cur_all[np.isfinite(cur_all)]
    bins, coarse = request["bins"], request["coarse_bins"]
    fine_edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    coarse_edges = np.unique(np.quantile(ref, np.arange(1, coarse) / coarse))

    def counts(values, edges):  # bin = number of edges below the value
        return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)

    ref_fine, cur_fine = counts(ref, fine_edges), counts(cur, fine_edges)
    ref_coarse, cur_coarse = counts(ref, coarse_edges), counts(cur, coarse_edges)
    out = shares_stats(ref_coarse, cur_coarse)
    del out["linf"]
    cdf_ref = np.cumsum(ref_fine) / len(ref)
    cdf_cur = np.cumsum(cur_fine) / len(cur)
    out["ks_binned_statistic"] = float(np.max(np.abs(cdf_ref - cdf_cur)))
    out.update(ks_exact(ref, cur))
    out["wasserstein_exact"] = float(stats.wasserstein_distance(ref, cur) /
                                     max(np.std(ref), 1e-3))
    out["fine_edges"] = fine_edges.tolist()
    out["reference_count"] = int(len(ref))
    out["reference_missing"] = int(len(ref_all) - len(ref))
    out["current_count"] = int(len(cur))
    out["current_missing"] = int(len(cur_all) - len(cur))
    out["reference_std"] = float(np.std(ref))
    out["reference_mean"] = float(np.mean(ref))
    return out


def categorical(request):
    """Counts per reference category plus one pooled cell for unseen ones; missing is null."""
    ref = [v for v in request["reference"] if v is not None]
    cur = [v for v in request["current"] if v is not None]
    categories = list(dict.fromkeys(ref))
    index = {c: i for i, c in enumerate(categories)}
    ref_counts = np.zeros(len(categories) + 1)
    cur_counts = np.zeros(len(categories) + 1)
    for v in ref:
        ref_counts[index[v]] += 1
    for v in cur:
        cur_counts[index.get(v, len(categories))] += 1
    out = shares_stats(ref_counts, cur_counts)
    out.update(chi2(ref_counts, cur_counts))
    out["current_unseen"] = int(cur_counts[-1])
    out["current_missing"] = len(request["current"]) - len(cur)
    out["reference_missing"] = len(request["reference"]) - len(ref)
    return out


def counts(request):
    ref, cur = request["reference"], request["current"]
    out = shares_stats(ref, cur)
    out.update(chi2(ref, cur))
    return out


def benjamini_hochberg(p):
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out


def functions(request):
    out = {}
    if "kolmogorov" in request:
        out["kolmogorov"] = [float(special.kolmogorov(x)) for x in request["kolmogorov"]]
    if "gammaincc" in request:
        out["gammaincc"] = [float(special.gammaincc(a, x)) for a, x in request["gammaincc"]]
    if "chi2_sf" in request:
        out["chi2_sf"] = [float(stats.chi2.sf(x, k)) for x, k in request["chi2_sf"]]
    if "quantile" in request:
        values = np.array(request["quantile"]["values"], float)
        out["quantile"] = [float(np.quantile(values, q)) for q in request["quantile"]["q"]]
    if "p_values" in request:
        p = np.asarray(request["p_values"], float)
        out["bonferroni"] = np.minimum(1.0, p * len(p)).tolist()
        out["benjamini_hochberg"] = benjamini_hochberg(p).tolist()
    if "wasserstein" in request:
        w = request["wasserstein"]
        out["wasserstein"] = float(stats.wasserstein_distance(w["u"], w["v"], w["wu"], w["wv"]))
    if "ks" in request:
        out["ks"] = ks_exact(np.array(request["ks"]["a"]), np.array(request["ks"]["b"]))
    return out


HANDLERS = {"numeric": numeric, "categorical": categorical, "counts": counts,
            "functions": functions}

if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        request = json.load(f)
    json.dump(HANDLERS[request["op"]](request), sys.stdout)
