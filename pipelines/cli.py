"""`speval` command line (docs/contract/outputs.md).

    speval run --quarter 2013Q4 [--programme LTC] [--data-dir data/raw] [--out reports/out]
               [--warehouse FILE] [--no-wait] [--verbose]
    speval demo-data --out data/raw [--scale 1.0] [--seed 42] [--spike-share 0]
    speval value-for-money (--annual-benefit GBP --cost GBP | --run RUN_FOLDER [--cost GBP])
               [--years 5] [--discount-rate 0.035] [--drop-off 0 --drop-off 0.2 --drop-off 0.333] [--out FILE.csv]

`run` builds the run's specification (speval/run/spec.py) and refuses an impossible run before the job
starts, with one line and exit code 2: a malformed or unknown quarter or programme, a quarter that has not
ended, no delivery covering the quarter, no referrals of the programme by its end. It then checks, failing
with one line and exit 1 (ADR 0013), that the output folder can be written and that no other DuckDB process
is using the warehouse (the partition's own file, ADR 0021). If another speval run holds the warehouse it
waits for that run to finish (queued behind it; `--no-wait` stops with one line instead), then executes the
project's Dagster job for the partition (the same Definitions the UI loads), holding the warehouse's run lock
until the job has finished. It exits 0 only when the report
was produced; otherwise 1, naming the failing file or check. Quiet on success: one line per stage and the
PDF path (`--verbose` shows Dagster's own log). With DAGSTER_HOME set the run is recorded in that instance
(visible in `make ui`); otherwise in a throwaway one.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REFUSED = 2  # exit code of a run refused before it starts
STAGES = ("ingest", "validate", "core", "cohorts", "outcomes", "matching", "economics", "report")  # asset groups, in flow order


def _run(args: argparse.Namespace) -> int:
    from speval.report.outputs import OutputFolderError, check_output_folder
    from speval.run.lock import RunLock, WarehouseBusy, busy_message, hand_over
    from speval.run.spec import RunRefused, RunSpec, partition_warehouse, plan_run

    try:
        spec = plan_run(RunSpec.build(args.quarter, args.programme, args.data_dir, args.out))
    except RunRefused as refused:
        return _fail_one_line(f"speval run refused: {refused}", REFUSED)
    warehouse = Path(args.warehouse).resolve() if args.warehouse else \
        partition_warehouse(spec.quarter.key, spec.programme.code)
    try:
        check_output_folder(spec.run_folder)
        warehouse.parent.mkdir(parents=True, exist_ok=True)
    except OutputFolderError as error:
        return _fail_one_line(str(error))
    except OSError as error:
        return _fail_one_line(f"the warehouse folder {warehouse.parent} cannot be created "
                              f"({error.strerror or error}); use --warehouse")
    try:
        try:
            lock = RunLock(warehouse).acquire()
        except WarehouseBusy:
            if args.no_wait:
                return _fail_one_line(busy_message(args.warehouse or warehouse))
            # Queued behind the run of the same warehouse (the same partition, unless --warehouse says otherwise).
            print(f"waiting: another speval run is using {warehouse}", file=sys.stderr, flush=True)
            lock = RunLock(warehouse).acquire(wait=True)
    except OSError as error:  # the lock file `<warehouse>.lock` cannot be created
        return _fail_one_line(f"the warehouse folder {warehouse.parent} cannot be written "
                              f"({error.strerror or error}); use --warehouse")
    try:
        if _held_by_another_duckdb_process(warehouse):
            return _fail_one_line(busy_message(args.warehouse or warehouse))
        with hand_over(lock):
            result = _execute(spec, warehouse, args.verbose)
    finally:
        lock.release()
    failures = _failures(result)
    if any(_is_busy(line) for line in failures):
        return _fail_one_line(busy_message(args.warehouse or warehouse))
    if result.success and not failures and spec.report_pdf.is_file():
        for line in _stage_lines(spec, result):
            print(line)
        print(f"Report: {spec.report_pdf}")
        return 0
    print(f"speval run failed for {spec.programme.code} {spec.quarter}:", file=sys.stderr)
    for line in failures or ["the run did not produce the report (see the Dagster run log: --verbose)"]:
        print(f"  - {line}", file=sys.stderr)
    return 1


def _stage_lines(spec, result) -> list[str]:
    """One line per stage of the asset graph (its group in the UI), in the order the stages first ran."""
    from pipelines.definitions import defs

    used = spec.planned
    lines = [f"{spec.programme.code} {spec.quarter}: HES delivery {used.hes} (cut-off "
             f"{used.hes_manifest.cutoff.isoformat()}), outcome-tool export {used.outcome_tool}, "
             f"provider returns {', '.join(used.provider_returns) or 'none'}"]
    graph = defs.resolve_asset_graph()
    stages: dict[str, int] = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            group = graph.get(event.asset_key).group_name
            stages[group] = stages.get(group, 0) + 1
    order = {group: i for i, group in enumerate(STAGES)}
    lines += [f"  {group}: {n} table{'s' if n != 1 else ''} or files built"
              for group, n in sorted(stages.items(), key=lambda item: order.get(item[0], len(order)))]
    return lines


def _execute(spec, warehouse: Path, verbose: bool):
    import dagster as dg

    from pipelines.definitions import defs
    from assets.partitions import partition_key
    from assets.resources import settings_config

    run_config = {
        "resources": {
            "settings": {"config": settings_config(spec)},
            "warehouse": {"config": {"database": str(warehouse)}},
        },
        "loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}},
    }
    job = defs.resolve_job_def("quarterly_evaluation")
    if not verbose:
        quiet_chart_browser_log()
    if os.environ.get("DAGSTER_HOME"):
        # The repository's dagster.yaml keeps run history under this folder (the Makefile sets it too).
        os.environ.setdefault("SPEVAL_DAGSTER_STORAGE", str(Path(os.environ["DAGSTER_HOME"]) / ".dagster"))
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.ephemeral()
    with instance:
        return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                      partition_key=partition_key(spec.quarter.key, spec.programme.code))


def quiet_chart_browser_log() -> None:
    """Keep the chart browser driver's own log (kaleido, choreographer) off a quiet run's stderr.

    choreographer logs a browser message it cannot decode, and ignores, as an error with a traceback, and
    with no handler configured Python prints it. No chart depends on such a message: a lost reply would stop
    the report step and the run would fail, naming it. `--verbose` leaves the log on stderr."""
    import logging

    for name in ("choreographer", "kaleido"):
        logging.getLogger(name).addHandler(logging.NullHandler())


def _fail_one_line(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def _is_busy(text: str) -> bool:
    from speval.run.lock import is_busy_error

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
    from speval.demo import generate

    out = Path(args.out)
    summary = generate(out, scale=args.scale, seed=args.seed, spike_share=args.spike_share)
    per_source: dict[str, list[int]] = {}
    for name, rows in summary.items():
        files_rows = per_source.setdefault(name.split("/")[0], [0, 0])
        files_rows[0] += 1
        files_rows[1] += int(rows)
    print(f"Demo data written to {out.resolve()} (scale {args.scale}, seed {args.seed})")
    for source, (files, rows) in sorted(per_source.items()):
        print(f"  {source}: {files} file(s), {rows:,} rows")
    return 0


def _value_for_money(args: argparse.Namespace) -> int:
    from speval.economics.calculator import CalculatorRefused, calculate, render, write_scenarios

    try:
        calc = calculate(annual_benefit=args.annual_benefit, cost=args.cost, run=args.run, years=args.years,
                         discount_rate=args.discount_rate, drop_offs=args.drop_off)
    except CalculatorRefused as refused:
        return _fail_one_line(f"speval value-for-money refused: {refused}", REFUSED)
    out = Path(args.out)
    try:
        write_scenarios(calc.table, out)
    except OSError as error:
        return _fail_one_line(f"speval value-for-money: {out} cannot be written ({error.strerror or error}); "
                              "use --out")
    print(render(calc))
    print(f"\nScenarios written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from speval.run.spec import DEFAULT_DATA_DIR, DEFAULT_OUT_DIR, DEFAULT_WAREHOUSE_DIR
    from speval.run.vocabulary import PROGRAMMES

    programmes = ", ".join(f"{p.code} ({p.label.lower()})" for p in PROGRAMMES)
    parser = argparse.ArgumentParser(prog="speval", description="Social prescribing evaluation pipeline: "
                                     "validated inputs, matched comparison, disclosure-controlled report.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the evaluation for one reporting quarter and render the report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Evaluate one programme for one reporting quarter: ingest and validate the deliveries that "
        "cover it, build the cohorts and the matched comparison, and write the report, tables and run manifest "
        "to <out>/<PROGRAMME>/<QUARTER>/. Exit codes: 0 report produced; 1 the run failed (the failing file or "
        "check is named); 2 the run was refused before it started (impossible quarter, programme or data).",
        epilog=f"Programmes: {programmes}. The rules are in docs/contract/.")
    run.add_argument("--quarter", required=True, help="reporting quarter, YYYYQn (Q1 = January to March), "
                     "e.g. 2013Q4; it must have ended and be covered by a HES delivery and an outcome-tool export")
    run.add_argument("--programme", default="LTC", help=f"programme code: {programmes}")
    run.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="folder holding hes/, outcome_tool/ and "
                     "provider_returns/ deliveries")
    run.add_argument("--out", default=DEFAULT_OUT_DIR, help="outputs land in OUT/PROGRAMME/QUARTER/")
    run.add_argument("--warehouse", help="the DuckDB file the run builds (one run at a time per warehouse); "
                     f"default: the quarter and programme's own file, {DEFAULT_WAREHOUSE_DIR}/PROGRAMME/QUARTER.duckdb")
    run.add_argument("--no-wait", action="store_true", help="if another run is using the warehouse, stop at once "
                     "(exit 1) instead of waiting for it to finish")
    run.add_argument("--verbose", action="store_true", help="show Dagster's own log of every step")
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo-data", help="write a synthetic data set in the contract's shape",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                          description="Write a synthetic data set (HES and outcome-tool deliveries 2013Q2, "
                          "2013Q4, 2014Q4, 2016Q4 and provider returns) with a planted truth.")
    demo.add_argument("--out", default=DEFAULT_DATA_DIR, help="folder to write hes/, outcome_tool/, provider_returns/ to")
    demo.add_argument("--scale", type=float, default=1.0, help="population size relative to the seeds' service")
    demo.add_argument("--seed", type=int, default=42, help="random seed: same seed and scale, same bytes")
    demo.add_argument("--spike-share", type=float, default=0.0,
                      help="share of each month's referrals selected among persons with an emergency admission "
                      "or A&E attendance in the days before, referred 1-28 days after it; monthly volumes are "
                      "unchanged (a harder selection for benchmarks; 0 = off)")
    demo.set_defaults(func=_demo_data)

    from speval.economics.calculator import DEFAULT_OUT, MAX_YEARS
    from speval.economics.scenarios import DISCOUNT_RATE, PAYBACK_HORIZON_MONTHS, YEARS

    vfm = sub.add_parser(
        "value-for-money", help="value-for-money scenarios (benefit, ROI, payback) from your numbers or a run",
        description="Project a year's benefit over several years, falling each year by a share of its first-year "
        "value (the drop-off) and discounted (first year not discounted), against a year's cost: the benefit, "
        "the return on investment (benefit / cost) and the months to payback (monthly benefit, undiscounted, "
        f"adding up to the cost; reported as not reached beyond {PAYBACK_HORIZON_MONTHS} months). Give either "
        "--annual-benefit and --cost, or --run with a finished run's folder: each basis of its "
        "tables/value_inputs.csv (naive, matched) is recomputed, with the benefit to date first (saving per "
        "patient x people referred to date against the cost to date, one year, undiscounted). Prints a table "
        "and writes the rows to a CSV (columns basis, scenario, years, discount_rate, drop_off, "
        "annual_benefit_gbp, benefit_gbp, cost_gbp, roi, payback_months; unrounded; basis `entered` for numbers "
        "typed in, naive or matched from a run). Exit codes: 0 written; "
        "1 the CSV could not be written; 2 the input was refused (one line says why).",
        epilog="Example (the 2014 evaluation's figures): speval value-for-money --annual-benefit 415000 "
        "--cost 573769. The rules are in docs/contract/rules.md (Value for money).")
    vfm.add_argument("--annual-benefit", metavar="GBP", help="the benefit of one year's referrals in pounds "
                     "(e.g. 415000 or 415,000; may be negative); needs --cost; not with --run")
    vfm.add_argument("--cost", metavar="GBP", help="the programme's annual cost in pounds, more than 0; with "
                     "--run it replaces the run's annual cost in the drop-off scenarios (not the cost to date)")
    vfm.add_argument("--run", metavar="RUN_FOLDER", help="a finished run's folder (e.g. reports/out/LTC/2013Q4), "
                     "the one holding tables/value_inputs.csv, or that file itself")
    vfm.add_argument("--years", default=str(YEARS), metavar="N", help=f"years the benefit is counted, 1 to "
                     f"{MAX_YEARS} (default: {YEARS})")
    vfm.add_argument("--discount-rate", default=str(DISCOUNT_RATE), metavar="RATE", help="yearly discount rate "
                     f"from 0 to below 1 (default: {DISCOUNT_RATE}, HM Treasury Green Book 3.5%%)")
    vfm.add_argument("--drop-off", action="append", metavar="SHARE", help="share of the first-year benefit lost "
                     "each further year, 0 to 1; repeat for several scenarios (default: 0, 0.2 and 0.333)")
    vfm.add_argument("--out", default=DEFAULT_OUT, metavar="FILE.csv", help="the CSV to write (default: "
                     f"{DEFAULT_OUT} in the current folder; its folder is created if needed)")
    vfm.set_defaults(func=_value_for_money)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as error:  # DuckDB's lock error from anywhere: the one sentence, not a traceback
        from speval.run.lock import busy_message, is_busy_error
        from speval.run.spec import partition_warehouse

        if is_busy_error(str(error)) and args.command == "run":
            return _fail_one_line(busy_message(args.warehouse or partition_warehouse(args.quarter, args.programme)))
        raise


def command() -> None:
    """The `speval` command: `main`, then an exit without the interpreter's teardown of every module it imported
    (dagster, Great Expectations, WeasyPrint...), which took 1.3 s after each run had printed its last line.
    It exits as Python would otherwise: threads still running are waited for, then the exit handlers run (one
    stops the charts' Chromium), and the output is flushed. By then the job has closed the warehouse, the run
    history and every file it wrote. An unexpected error still leaves by Python's own way, with its traceback."""
    import atexit
    import threading

    code = main()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what Python runs at exit, before the teardown that is skipped
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    command()
