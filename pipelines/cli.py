"""`speval` command line (CONTRACT.md §3).

    speval run --quarter 2013Q4 [--programme LTC] [--data-dir data/raw] [--out reports/out]
               [--warehouse data/warehouse.duckdb]
    speval demo-data --out data/raw [--scale 1.0] [--seed 42]

`run` executes the project's Dagster job (the same Definitions the UI loads) and exits 0 only when the
report was produced; otherwise it exits 1 naming the failing file or check. With DAGSTER_HOME set the
run is recorded in that instance (visible in `make ui`); otherwise in a throwaway one.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    import dagster as dg

    from pipelines.definitions import defs

    settings = {
        "quarter": args.quarter,
        "programme": args.programme,
        "data_dir": str(Path(args.data_dir).resolve()),
        "out_dir": str(Path(args.out).resolve()),
    }
    warehouse = Path(args.warehouse).resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    run_config = {
        "resources": {
            "settings": {"config": settings},
            "warehouse": {"config": {"database": str(warehouse)}},
        }
    }
    job = defs.resolve_job_def("quarterly_evaluation")
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                        tags={"quarter": args.quarter, "programme": args.programme})
    failures = _failures(result)
    pdf = Path(settings["out_dir"]) / args.programme / args.quarter / "evaluation_report.pdf"
    if result.success and not failures and pdf.is_file():
        print(f"Report: {pdf}")
        return 0
    print(f"speval run failed for {args.programme} {args.quarter}:", file=sys.stderr)
    for line in failures or ["the run did not produce the report (see the Dagster run log)"]:
        print(f"  - {line}", file=sys.stderr)
    return 1


def _failures(result) -> list[str]:
    """Human-readable reasons the run failed: step errors and failed blocking checks."""
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None and error.cause is not None and "dagster" in error.cls_name.lower():
                error = error.cause
            message = error.message.strip() if error else "unknown error"
            for part in message.splitlines():  # one line per refused file
                lines.append(f"{event.step_key}: {part}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed and data.severity.value == "ERROR":
                lines.append(
                    f"check {data.check_name} on {data.asset_key.to_user_string()} failed "
                    f"({', '.join(f'{k}={v.value}' for k, v in data.metadata.items())})"
                )
    return lines


def _demo_data(args: argparse.Namespace) -> int:
    from speval.demo_data import generate

    out = Path(args.out)
    summary = generate(out, scale=args.scale, seed=args.seed)
    per_source: dict[str, list[int]] = {}
    for name, rows in summary.items():
        files_rows = per_source.setdefault(name.split("/")[0], [0, 0])
        files_rows[0] += 1
        files_rows[1] += int(rows)
    print(f"Demo data written to {out.resolve()} (scale {args.scale}, seed {args.seed})")
    for source, (files, rows) in sorted(per_source.items()):
        print(f"  {source}: {files} file(s), {rows:,} rows")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="speval", description="Social prescribing evaluation pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the evaluation for one reporting quarter and render the report")
    run.add_argument("--quarter", required=True, help="reporting quarter, e.g. 2013Q4")
    run.add_argument("--programme", default="LTC", choices=["LTC", "MH"])
    run.add_argument("--data-dir", default="data/raw")
    run.add_argument("--out", default="reports/out")
    run.add_argument("--warehouse", default="data/warehouse.duckdb")
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo-data", help="write a synthetic data set in the contract's shape")
    demo.add_argument("--out", default="data/raw")
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_demo_data)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
