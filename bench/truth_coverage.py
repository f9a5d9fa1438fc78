"""Bias, RMSE and interval coverage of the matched comparison against the generator's planted truth.

    uv run python bench/truth_coverage.py                       # 20 seeds x spike shares 0.5, 0.8 at scale 1
    uv run python bench/truth_coverage.py --quick               # 3 seeds: a smoke run
    uv run python bench/truth_coverage.py --seeds 20 --spike-shares 0 0.5 0.8 --scales 1.0 0.3

A generator setting is a (scale, spike share) pair: ``spike_share`` is the share of each month's referrals
the generator selects among persons with one of their own emergency admissions or A&E attendances in the
days before and refers 1-28 days after it (`speval demo-data --spike-share`; no events are added, monthly
volumes are unchanged), the selection a GP referral after an acute episode creates; 0 is the default
generator. At scale 1, seed 42, the share of linked referred persons with such an event in the 28 days before
the index date is 12% at 0, 55% at 0.5 and 81% at 0.8. Scale 1 gives about 150 people in the
12-month cohort at 2013Q4 (a small programme).

For every seed (1..N) and setting: generate the demo data in a temporary folder, run the real
`speval run --quarter 2013Q4` job on it (up to the estimates: the report is not rendered), and compare,
per cohort (12m, 6m) and measure, the estimates with the true effect over the matched treated (speval.analysis.truth.true_effects: mean expected - counterfactual
post-window count). Estimators (analysis.matched_effects, matching setting 'primary'):

- ``did``: the plain matched difference-in-differences and its 95% interval;
- ``did_adjusted``: the doubly robust (regression-adjusted) DiD and its interval, when the table has the
  columns (the bench works without them);
- ``naive``: the cohort's before/after change (analysis.hospital_use, group 'all'), for comparison.

Printed: a markdown table per setting x cohort x measure x estimator with bias (mean of estimate - truth),
RMSE, coverage of the 95% interval (%, not for naive) and the number of seeds; with ``--grid`` also the
plain DiD of every matching setting of the sensitivity grid (measures pooled). Written:
bench/out/truth_coverage.json (the summary and every per-seed row). Each finished seed x setting is cached in
bench/out/coverage/scale_<s>_spike_<x>_code_<hash>/seed_<n>.json (the hash covers the SQL, the analysis
code, the generator and the plan) and not run again (``--fresh`` reruns them, e.g.
after a pipeline change). Each seed takes about a minute at scale 1. Never run by the tests.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
sys.path.insert(0, str(BENCH_DIR.parent))

from speval.analysis.truth import true_effects  # noqa: E402
from speval.demo import generate  # noqa: E402

QUARTER = "2013Q4"
#: estimator -> (estimate, interval low, interval high) columns of analysis.matched_effects
ESTIMATORS = {"did": ("did", "did_ci_low", "did_ci_high"),
              "did_adjusted": ("did_adjusted", "did_adjusted_ci_low", "did_adjusted_ci_high")}


def code_fingerprint() -> str:
    """A short hash of what decides the estimates (the SQL, the analysis code, the generator, the plan), so a
    cached seed is never reused after any of them changes."""
    root = BENCH_DIR.parent
    files = sorted([*root.glob("sql/**/*.sql"), *root.glob("speval/analysis/*.py"), *root.glob("speval/demo/*.py"),
                    root / "analysis_plan.yaml"])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def run_analysis(data: Path, out: Path, warehouse: Path) -> bool:
    """The project's Dagster job for QUARTER, as `speval run` launches it, but only the assets the estimates
    need (the report is left out: it changes no number and takes a third of a run)."""
    import dagster as dg

    from assets.partitions import partition_key
    from assets.resources import settings_config
    from pipelines.definitions import defs
    from speval.run.spec import RunSpec, plan_run

    spec = plan_run(RunSpec.build(QUARTER, "LTC", data, out))
    needed = dg.AssetSelection.all() - dg.AssetSelection.groups("report")
    job = defs.resolve_job_def("quarterly_evaluation")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            run_config={"resources": {"settings": {"config": settings_config(spec)},
                                      "warehouse": {"config": {"database": str(warehouse)}}},
                        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            instance=instance, raise_on_error=False, partition_key=partition_key(QUARTER, "LTC"),
            asset_selection=list(needed.resolve(defs.resolve_asset_graph())))
    return result.success


def one_seed(seed: int, scale: float, spike_share: float, work: Path) -> list[dict]:
    """Generate, run and compare one seed of one generator setting (in its own temporary folder)."""
    work.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"seed{seed}_", dir=work))
    try:
        data, out, warehouse = root / "data", root / "out", root / "w.duckdb"
        generate(data, scale=scale, seed=seed, spike_share=spike_share)
        if not run_analysis(data, out, warehouse):
            raise SystemExit(f"run failed for seed {seed}, scale {scale:g}, spike share {spike_share:g}")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            treated = con.sql("SELECT DISTINCT setting, cohort, person_id FROM analysis.matched_sets "
                              "WHERE role = 'treated'").pl()
            effects = con.sql("SELECT * FROM analysis.matched_effects WHERE did IS NOT NULL").pl()
            naive = con.sql("SELECT cohort, measure, change FROM analysis.hospital_use WHERE \"group\" = 'all'").pl()
        naive_change = {(r["cohort"], r["measure"]): r["change"] for r in naive.iter_rows(named=True)}
        rows = []
        for (setting,), people in treated.group_by("setting"):
            truth = true_effects(data / "truth_patients.csv", people.select("cohort", "person_id"))
            for e in effects.filter(setting=setting).iter_rows(named=True):
                row = {"seed": seed, "scale": scale, "spike_share": spike_share, "setting": setting,
                       "cohort": e["cohort"], "measure": e["measure"], "n_treated": e.get("n_treated"),
                       "truth": truth[(e["cohort"], e["measure"])],
                       "naive": naive_change.get((e["cohort"], e["measure"]))}
                for cols in ESTIMATORS.values():
                    row.update({c: e[c] for c in cols if c in e})
                rows.append(row)
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


def long_form(rows: list[dict]) -> pl.DataFrame:
    """One row per seed x setting x cohort x measure x estimator with estimate, interval and truth."""
    out = []
    for r in rows:
        key = {k: r[k] for k in ("seed", "scale", "spike_share", "setting", "cohort", "measure", "truth")}
        if r.get("naive") is not None:
            out.append({**key, "estimator": "naive", "estimate": r["naive"], "low": None, "high": None})
        for name, (est, low, high) in ESTIMATORS.items():
            if r.get(est) is not None:
                out.append({**key, "estimator": name, "estimate": r[est], "low": r.get(low), "high": r.get(high)})
    return pl.DataFrame(out, schema_overrides={"low": pl.Float64, "high": pl.Float64, "estimate": pl.Float64})


def summarise(long: pl.DataFrame) -> pl.DataFrame:
    """Bias, RMSE and 95%-interval coverage per generator setting x cohort x measure x estimator."""
    err = pl.col("estimate") - pl.col("truth")
    has_ci = pl.col("low").is_not_null() & pl.col("high").is_not_null()
    covered = pl.when(has_ci).then((pl.col("low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("high")))
    order = {"did": 0, "did_adjusted": 1, "naive": 2}
    return (long.filter(setting="primary")
            .group_by("scale", "spike_share", "cohort", "measure", "estimator")
            .agg(bias=err.mean(), rmse=(err ** 2).mean().sqrt(), coverage=covered.mean() * 100,
                 mean_truth=pl.col("truth").mean(), n_seeds=pl.col("seed").n_unique())
            .with_columns(cohort_order=pl.col("cohort").str.strip_chars_end("m").cast(pl.Int64, strict=False),
                          estimator_order=pl.col("estimator").replace_strict(order, default=9))
            .sort("scale", "spike_share", pl.col("cohort_order"), "measure", "estimator_order",
                  descending=[False, False, True, False, False])
            .drop("cohort_order", "estimator_order"))


def _fmt(x, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def print_tables(summary: pl.DataFrame, long: pl.DataFrame, grid: bool) -> None:
    print(f"Matching setting 'primary', quarter {QUARTER}; bias = mean(estimate - truth), coverage of the 95% interval")
    print("| scale | spike share | cohort | measure | estimator | bias | RMSE | coverage (%) | mean truth | n_seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in summary.iter_rows(named=True):
        print(f"| {r['scale']:g} | {r['spike_share']:g} | {r['cohort']} | {r['measure']} | {r['estimator']} | "
              f"{_fmt(r['bias'], '+.3f')} | {_fmt(r['rmse'], '.3f')} | {_fmt(r['coverage'], '.0f')} | "
              f"{_fmt(r['mean_truth'], '+.3f')} | {r['n_seeds']} |")
    if not grid:
        return
    grid = (long.filter(pl.col("estimator") == "did")
            .group_by("scale", "spike_share", "setting", "cohort")
            .agg(coverage=((pl.col("low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("high"))).mean() * 100,
                 bias=(pl.col("estimate") - pl.col("truth")).mean(),
                 rmse=((pl.col("estimate") - pl.col("truth")) ** 2).mean().sqrt(),
                 mean_ci_width=(pl.col("high") - pl.col("low")).mean())
            .sort("scale", "spike_share", "cohort", "rmse"))
    print("\nPlain matched DiD in every matching setting of the sensitivity grid (four measures pooled):")
    print("| scale | spike share | matching setting | cohort | bias | RMSE | coverage (%) | mean CI width |")
    print("|---|---|---|---|---|---|---|---|")
    for r in grid.iter_rows(named=True):
        print(f"| {r['scale']:g} | {r['spike_share']:g} | {r['setting']} | {r['cohort']} | {_fmt(r['bias'], '+.3f')} | "
              f"{_fmt(r['rmse'], '.3f')} | {_fmt(r['coverage'], '.0f')} | {_fmt(r['mean_ci_width'], '.3f')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="seeds 1..N per generator setting")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 seeds")
    parser.add_argument("--spike-shares", type=float, nargs="+", default=[0.5, 0.8],
                        help="generator spike shares (0 = the default generator)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0], help="generator scales")
    parser.add_argument("--fresh", action="store_true", help="ignore cached per-seed results and rerun")
    parser.add_argument("--grid", action="store_true",
                        help="also print the plain DiD of every matching setting of the sensitivity grid")
    args = parser.parse_args()
    n_seeds = 3 if args.quick else args.seeds
    cache_root = OUT_DIR / "coverage"
    rows = []
    for scale in args.scales:
        for share in args.spike_shares:
            done = cache_root / f"scale_{scale:g}_spike_{share:g}_code_{code_fingerprint()}"
            done.mkdir(parents=True, exist_ok=True)
            for seed in range(1, n_seeds + 1):
                result = done / f"seed_{seed}.json"  # resumable: a finished seed is not run again
                if args.fresh or not result.is_file():
                    result.write_text(json.dumps(one_seed(seed, scale, share, cache_root / "work")))
                rows += json.loads(result.read_text())
                print(f"scale {scale:g}, spike share {share:g}: seed {seed} done", file=sys.stderr)
    long = long_form(rows)
    summary = summarise(long)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "truth_coverage.json").write_text(json.dumps(
        {"quarter": QUARTER, "seeds": n_seeds, "scales": args.scales, "spike_shares": args.spike_shares,
         "summary": summary.to_dicts(), "rows": rows}, indent=1, default=str))
    print_tables(summary, long, args.grid)
    print(f"\nwritten {OUT_DIR / 'truth_coverage.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
