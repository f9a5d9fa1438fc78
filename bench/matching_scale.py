"""Benchmark of the matching core (speval.analysis.matching): propensity_logit + match at cohort-to-national scale.

    .venv/bin/python bench/matching_scale.py [--treated 10000] [--pools 100000 1000000] [--strata 20]

For each candidate pool size × (without / with replacement) × ratio (1, 5): a fresh child process generates a
seeded synthetic matching table (10,000 treated rows, 12 covariates, ~20 monthly strata; each candidate person
is eligible in 4 consecutive months, so has 4 rows), then fits the propensity model and matches. The child
reports wall times from time.perf_counter and peak resident memory from getrusage (ru_maxrss) twice: after
generating the inputs (the baseline the caller already holds) and at the end. Results are printed as a
markdown table and written to bench/out/matching_scale.json. Never asserted by tests: figures depend on the
machine (and on what else runs on it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out"
sys.path.insert(0, str(BENCH_DIR.parent))


def synthetic(n_treated: int, n_pool: int, n_strata: int, seed: int = 42):
    """Matching table in the pipeline's shape: X (12 covariates), treated flag, stratum (month), person."""
    import numpy as np

    rng = np.random.default_rng(seed)
    months_per_person = 4
    n_persons = n_pool // months_per_person
    first = rng.integers(0, n_strata - months_per_person + 1, n_persons)
    c_person = np.repeat(np.arange(n_persons), months_per_person)
    c_stratum = (first[:, None] + np.arange(months_per_person)).ravel()
    t_stratum = rng.integers(0, n_strata, n_treated)
    n = n_treated + c_person.size
    shift = np.r_[np.full(n_treated, 0.6), np.zeros(c_person.size)]  # treated sicker on average
    h = rng.normal(size=n) + shift
    X = np.empty((n, 12))
    X[:, 0] = np.round(68 + 6 * h + rng.normal(0, 8, n))                      # age
    X[:, 1] = rng.random(n) < 0.55                                              # female
    X[:, 2] = rng.integers(1, 11, n)                                            # IMD decile
    X[:, 3] = rng.poisson(np.exp(0.3 + 0.5 * h))                                # LTC count
    X[:, 4] = 100 / (1 + np.exp(2.0 - 0.9 * h))                                 # risk score
    for j in range(5, 12):                                                      # 6- and 12-month counts
        X[:, j] = rng.poisson(np.exp(-0.5 + 0.5 * h + 0.3 * shift + rng.normal(0, 0.5, n)))
    treated = np.r_[np.ones(n_treated, bool), np.zeros(c_person.size, bool)]
    stratum = np.r_[t_stratum, c_stratum]
    person = np.r_[n_persons + np.arange(n_treated), c_person]
    return X, treated, stratum, person


def child(n_treated: int, n_pool: int, n_strata: int, ratio: int, replace: bool) -> dict:
    import numpy as np

    from speval.analysis.matching import MatchSettings, match, propensity_logit

    X, treated, stratum, person = synthetic(n_treated, n_pool, n_strata)
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    logit = propensity_logit(X, treated)
    t1 = time.perf_counter()
    result = match(logit, treated, stratum, person, MatchSettings(ratio=ratio, replace=replace))
    t2 = time.perf_counter()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reasons, counts = np.unique(result.unmatched_reason, return_counts=True)
    return {
        "treated": n_treated, "pool_rows": int((~treated).sum()), "strata": n_strata, "covariates": X.shape[1],
        "ratio": ratio, "replace": replace,
        "propensity_s": round(t1 - t0, 3), "match_s": round(t2 - t1, 3), "total_s": round(t2 - t0, 3),
        "rss_inputs_mib": round(rss_inputs, 1), "rss_peak_mib": round(rss_peak, 1),
        "rss_added_mib": round(rss_peak - rss_inputs, 1),
        "pairs": int(result.control_row.size), "treated_matched": int(np.unique(result.treated_row).size),
        "distinct_controls": int(np.unique(person[result.control_row]).size),
        "unmatched": {str(r): int(c) for r, c in zip(reasons, counts)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--treated", type=int, default=10_000)
    parser.add_argument("--pools", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--strata", type=int, default=20)
    parser.add_argument("--child", nargs=3, metavar=("POOL", "RATIO", "REPLACE"))
    args = parser.parse_args()
    if args.child:
        pool, ratio, replace = args.child
        print(json.dumps(child(args.treated, int(pool), args.strata, int(ratio), replace == "1")))
        return

    OUT.mkdir(exist_ok=True)
    runs = []
    for pool in args.pools:
        for replace in (False, True):
            for ratio in (1, 5):
                proc = subprocess.run([sys.executable, __file__, "--treated", str(args.treated), "--strata",
                                       str(args.strata), "--child", str(pool), str(ratio), str(int(replace))],
                                      check=True, capture_output=True, text=True, env={**os.environ})
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                r = runs[-1]
                print(f"pool {pool:>9,} ratio {ratio} replace {replace!s:5}: {r['total_s']:.2f} s, "
                      f"peak {r['rss_peak_mib']:.0f} MiB", file=sys.stderr)

    import numpy
    import scipy

    meta = {"python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "note": "wall times on a shared machine; rss = getrusage ru_maxrss of a fresh child process"}
    (OUT / "matching_scale.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=2) + "\n")

    print("| treated | pool rows | replace | ratio | propensity s | match s | total s | RSS inputs MiB "
          "| RSS peak MiB | added MiB | pairs | treated matched | distinct controls | unmatched |")
    print("|---:|---:|:--|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|")
    for r in runs:
        unmatched = ", ".join(f"{k}: {v}" for k, v in r["unmatched"].items()) or "0"
        print(f"| {r['treated']:,} | {r['pool_rows']:,} | {'with' if r['replace'] else 'without'} | {r['ratio']} "
              f"| {r['propensity_s']:.2f} | {r['match_s']:.2f} | {r['total_s']:.2f} | {r['rss_inputs_mib']:.0f} "
              f"| {r['rss_peak_mib']:.0f} | {r['rss_added_mib']:.0f} | {r['pairs']:,} | {r['treated_matched']:,} "
              f"| {r['distinct_controls']:,} | {unmatched} |")
    print(f"\n{meta['note']}; python {meta['python']}, numpy {meta['numpy']}, {meta['cpus']} CPUs")


if __name__ == "__main__":
    main()
