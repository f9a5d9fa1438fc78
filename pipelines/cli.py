"""`speval` command line (CONTRACT.md §3).

    speval run --quarter 2013Q4 [--programme LTC] [--data-dir data/raw] [--out reports/out]
               [--warehouse data/warehouse.duckdb]
    speval demo-data --out data/raw [--scale 1.0] [--seed 42]

`run` executes the project's Dagster job (the same Definitions the UI loads) and exits 0 only when the
report was produced; otherwise it exits 1 naming the failing file or check. With DAGSTER_HOME set the
run is recorded in that instance (visible in `make ui`); otherwise in a throwaway one.

Before launching it checks, each failing with one line and exit 1 (ADR 0013): that the output folder can
be written, and that no other run (or other DuckDB process) is using the warehouse. It then holds the
warehouse's run lock until the job has finished, handing it to the job's warehouse resource.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from speval.outputs import OutputFolderError, check_output_folder
    from speval.run_lock import RunLock, WarehouseBusy, busy_message, hand_over

    settings = {
        "quarter": args.quarter,
        "programme": args.programme,
        "data_dir": str(Path(args.data_dir).resolve()),
        "out_dir": str(Path(args.out).resolve()),
    }
    run_folder = Path(settings["out_dir"]) / args.programme / args.quarter
    warehouse = Path(args.warehouse).resolve()
    try:
        check_output_folder(run_folder)
        warehouse.parent.mkdir(parents=True, exist_ok=True)
    except OutputFolderError as error:
        return _fail_one_line(str(error))
    except OSError as error:
        return _fail_one_line(f"the warehouse folder {warehouse.parent} cannot be created "
                              f"({error.strerror or error}); use --warehouse")
    try:
        lock = RunLock(warehouse).acquire()
    except WarehouseBusy:
        return _fail_one_line(busy_message(args.warehouse))
    except OSError as error:  # the lock file `<warehouse>.lock` cannot be created
        return _fail_one_line(f"the warehouse folder {warehouse.parent} cannot be written "
                              f"({error.strerror or error}); use --warehouse")
    try:
        if _held_by_another_duckdb_process(warehouse):
            return _fail_one_line(busy_message(args.warehouse))
        with hand_over(lock):
            result = _execute(settings, warehouse, args)
    finally:
        lock.release()
    failures = _failures(result)
    if any(_is_busy(line) for line in failures):
        return _fail_one_line(busy_message(args.warehouse))
    pdf = run_folder / "evaluation_report.pdf"
    if result.success and not failures and pdf.is_file():
        print(f"Report: {pdf}")
        return 0
    print(f"speval run failed for {args.programme} {args.quarter}:", file=sys.stderr)
    for line in failures or ["the run did not produce the report (see the Dagster run log)"]:
        print(f"  - {line}", file=sys.stderr)
    return 1


def _execute(settings: dict, warehouse: Path, args: argparse.Namespace):
    import dagster as dg

    from pipelines.definitions import defs

    run_config = {
        "resources": {
            "settings": {"config": settings},
            "warehouse": {"config": {"database": str(warehouse)}},
        }
    }
    job = defs.resolve_job_def("quarterly_evaluation")
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                      tags={"quarter": args.quarter, "programme": args.programme})


def _fail_one_line(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _is_busy(text: str) -> bool:
    from speval.run_lock import is_busy_error

    return is_busy_error(text)


def _held_by_another_duckdb_process(warehouse: Path) -> bool:
    """DuckDB's own lock: a process other than a speval run (a notebook, the DuckDB CLI) has the file open
    for writing. Checked read-only; any other problem with the file is left for the run to report."""
    import duckdb

    if not warehouse.is_file():
        return False
    try:
        duckdb.connect(str(warehouse), read_only=True).close()
    except duckdb.Error as error:
        return _is_busy(str(error))
    return False


def _failures(result) -> list[str]:
    """Human-readable reasons the run failed, one line each: step errors, failed blocking checks, and the
    run's own error when no step failed (e.g. the warehouse resource could not be set up)."""
    lines = []
    run_error = None
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = _user_error(event.step_failure_data.error)
            if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                continue  # a failed blocking check: its evaluation below is the readable line
            message = error.message.strip() if error else "unknown error"
            for part in message.splitlines():  # one line per refused file
                lines.append(f"{event.step_key}: {part}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed and data.severity.value == "ERROR":
                detail = (f": {data.description}" if data.description else
                          f" ({', '.join(f'{k}={v.value}' for k, v in data.metadata.items())})")
                lines.append(f"check {data.check_name} on {data.asset_key.to_user_string()} failed{detail}")
        elif event.event_type_value in ("RESOURCE_INIT_FAILURE", "PIPELINE_FAILURE"):
            error = getattr(event.event_specific_data, "error", None)
            if error is not None and run_error is None:
                run_error = _user_error(error).message.strip()
    if not lines and run_error:
        lines.extend(part for part in run_error.splitlines() if part.strip())
    return lines


def _user_error(error):
    """The first error in the chain that is not Dagster's own wrapper."""
    while error is not None and error.cause is not None and "dagster" in error.cls_name.lower():
        error = error.cause
    return error


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
    try:
        return args.func(args)
    except Exception as error:  # DuckDB's lock error from anywhere: the one sentence, not a traceback
        from speval.run_lock import busy_message, is_busy_error

        if is_busy_error(str(error)) and getattr(args, "warehouse", None):
            return _fail_one_line(busy_message(args.warehouse))
        raise


if __name__ == "__main__":
    sys.exit(main())
