"""Interval coverage and bias of the matched comparison against the generator's planted truth.

    uv run python bench/truth_coverage.py [--seeds 20] [--scale 1.0]

For each seed: generate the demo data, run `speval run --quarter 2013Q4`, and compare each cohort's and
measure's difference-in-differences (and the naive before/after change) with the true effect over the
matched treated. Prints coverage of the 95% intervals and mean bias per measure; writes
bench/out/truth_coverage.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb
import polars as pl

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from pipelines.cli import main as speval  # noqa: E402
from speval.demo import generate  # noqa: E402
from speval.analysis.truth import MEASURES, true_effects  # noqa: E402


def one_seed(seed: int, scale: float, root: Path) -> list[dict]:
    data, out, warehouse = root / "data", root / "out", root / "w.duckdb"
    warehouse.unlink(missing_ok=True)
    generate(data, scale=scale, seed=seed)
    if speval(["run", "--quarter", "2013Q4", "--data-dir", str(data), "--out", str(out),
               "--warehouse", str(warehouse)]) != 0:
        raise SystemExit(f"run failed for seed {seed}")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        treated = con.sql("SELECT DISTINCT setting, cohort, person_id FROM analysis.matched_sets "
                          "WHERE role = 'treated'").pl()
        effects = con.sql("SELECT * FROM analysis.matched_effects WHERE did IS NOT NULL").pl()
    naive = pl.read_csv(out / "LTC" / "2013Q4" / "tables" / "hospital_use.csv").filter(group="all")
    rows = []
    for (setting,), people in treated.group_by("setting"):
        truth = true_effects(data / "truth_patients.csv", people.select("cohort", "person_id"))
        for e in effects.filter(setting=setting).iter_rows(named=True):
            t = truth[(e["cohort"], e["measure"])]
            rows.append({"seed": seed, "setting": setting, "cohort": e["cohort"], "measure": e["measure"],
                         "truth": t, "did": e["did"], "low": e["did_ci_low"], "high": e["did_ci_high"],
                         "naive": naive.filter(cohort=e["cohort"], measure=e["measure"])["change"][0],
                         "covered": e["did_ci_low"] <= t <= e["did_ci_high"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    done = BENCH_DIR / "out" / "coverage" / f"scale_{args.scale:g}"
    done.mkdir(parents=True, exist_ok=True)
    for seed in range(1, args.seeds + 1):
        result = done / f"seed_{seed}.json"  # resumable: a finished seed is not run again
        if not result.is_file():
            result.write_text(json.dumps(one_seed(seed, args.scale, BENCH_DIR / "out" / "coverage" / "work")))
        rows += json.loads(result.read_text())
        print(f"seed {seed} done", file=sys.stderr)
    table = pl.DataFrame(rows)
    (BENCH_DIR / "out").mkdir(exist_ok=True)
    (BENCH_DIR / "out" / "truth_coverage.json").write_text(json.dumps(rows, indent=1, default=str))
    summary = (table.filter(setting="primary").group_by("cohort", "measure", maintain_order=True)
               .agg(coverage=pl.col("covered").mean() * 100, bias_matched=(pl.col("did") - pl.col("truth")).mean(),
                    bias_naive=(pl.col("naive") - pl.col("truth")).mean(), mean_truth=pl.col("truth").mean(),
                    mean_ci_width=(pl.col("high") - pl.col("low")).mean())
               .sort("cohort", "measure"))
    print(f"{args.seeds} seeds, scale {args.scale}; primary setting")
    print("| cohort | measure | coverage of 95% CI (%) | bias, matched DiD | bias, naive change | mean true effect | mean CI width |")
    print("|---|---|---|---|---|---|---|")
    for r in summary.iter_rows(named=True):
        print(f"| {r['cohort']} | {r['measure']} | {r['coverage']:.0f} | {r['bias_matched']:+.3f} | "
              f"{r['bias_naive']:+.3f} | {r['mean_truth']:+.3f} | {r['mean_ci_width']:.3f} |")
    by_setting = (table.group_by("setting", "cohort")
                  .agg(coverage=pl.col("covered").mean() * 100,
                       mean_abs_bias=(pl.col("did") - pl.col("truth")).abs().mean(),
                       rmse=((pl.col("did") - pl.col("truth")) ** 2).mean().sqrt(),
                       mean_ci_width=(pl.col("high") - pl.col("low")).mean())
                  .sort("cohort", "rmse"))
    print("\nEvery setting of the sensitivity grid (all four measures pooled):")
    print("| setting | cohort | coverage (%) | mean abs error | RMSE | mean CI width |")
    print("|---|---|---|---|---|---|")
    for r in by_setting.iter_rows(named=True):
        print(f"| {r['setting']} | {r['cohort']} | {r['coverage']:.0f} | {r['mean_abs_bias']:.3f} | {r['rmse']:.3f} | "
              f"{r['mean_ci_width']:.3f} |")


if __name__ == "__main__":
    main()
