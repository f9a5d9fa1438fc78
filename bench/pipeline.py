"""Benchmark of the whole `speval run`, stage by stage, at demo scale ×1 and ×10 (×100 with --large).

    uv run python bench/pipeline.py [--large] [--scales 1 10] [--quarter 2013Q4] [--memory-cap-mib N]

For each scale: generates the demo data (seed 42) under bench/out/pipeline/ once, then runs the real
`speval run` in a child process with a fresh Dagster instance (a copy of the repository's dagster.yaml in a
temporary folder) and a fresh warehouse, sampling the memory of the child and its descendants from
/proc every 0.1 s. From the run's step timings (recorded by Dagster) it reports the startup (process start to
the first step), then per stage (the asset groups, in flow order) the time of its steps and the peak memory
while they ran, and the whole run's wall time and peak memory; and the longest steps one by one.

For comparison, another child process loads the same current-delivery CSV files the run ingests (HES and
outcome tool) with DuckDB's own `read_csv` into an in-memory database. Two ratios: the time of the ingest
stage plus the steps building the staged (typed) tables, and of the whole run, over that read_csv time.

Results are printed as a Markdown table and written to bench/results/pipeline.csv (scale, stage, wall_s,
peak_memory_mib; the ratios sit in wall_s), replacing the rows of the scales run. Never asserted by tests:
figures depend on the machine. Memory is the proportional set size of the run's process tree.

A run whose memory goes over the cap (80% of the machine's unless --memory-cap-mib says otherwise) is killed
with its descendants and reported as stopped: the stages it finished, the step it was stopped in, and no
whole-run ratio. That is how a scale too large for the machine (×100 on 24 GiB) is measured as far as it goes.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out" / "pipeline"
RESULTS = BENCH_DIR / "results" / "pipeline.csv"
SAMPLE_EVERY = 0.1  # seconds
OUTSIDE = "between and after steps"
LONGEST_STEPS = 8  # printed one by one: where a stage's time goes
RATIO_INGEST, RATIO_RUN = "ratio ingest+staged / read_csv", "ratio whole run / read_csv"


def read_csv_child(files: list[str]) -> None:
    """Print the seconds DuckDB takes to load each file into an in-memory table, one after the other."""
    import duckdb

    con = duckdb.connect()
    con.execute("SELECT 1").fetchall()  # warm-up
    started = time.perf_counter()
    for file in files:
        quoted = file.replace("'", "''")
        con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{quoted}')")
    print(time.perf_counter() - started)


def tree_memory_kib(root: int) -> int:
    """Proportional set size (KiB) of a process and all its descendants, read from /proc: each page shared by
    several processes (Chromium's, for the charts) is split between them, so the sum is the tree's memory."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # the process ended meanwhile
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return total


def memory_cap_mib() -> float:
    """The default cap on the run's memory: 80% of the machine's, so a scale that does not fit is stopped and
    reported instead of leaving the machine to its out-of-memory killer."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 * 0.8
    raise SystemExit("cannot read /proc/meminfo")


def sampled(command: list[str], env: dict[str, str], log: Path, cap_mib: float | None = None
            ) -> tuple[float, float, list[tuple[float, float]], bool]:
    """Run a command; (start time, end time, [(time, memory MiB)], whether it was stopped) with times from
    time.time(). Over `cap_mib`, the command and its descendants are killed and it counts as stopped."""
    samples, stopped = [], False
    with log.open("w") as out:
        started = time.time()
        child = subprocess.Popen(command, env=env, cwd=BENCH_DIR.parent, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # its own process group: a stop reaches Chromium too
        while child.poll() is None:
            samples.append((time.time(), tree_memory_kib(child.pid) / 1024))
            if cap_mib is not None and samples[-1][1] > cap_mib:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                stopped = True
                break
            time.sleep(SAMPLE_EVERY)
        ended = time.time()
    if child.returncode and not stopped:
        raise SystemExit(f"{' '.join(command[1:4])} failed:\n{log.read_text()[-3000:]}")
    return started, ended, samples, stopped


def step_groups() -> tuple[dict[str, str], set[str]]:
    """Each step key (the op's name) with its stage (asset group), and the steps building staged tables."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    groups, staged = {}, set()
    for assets_def in graph.assets_defs:
        keys = [*assets_def.keys, *(check.asset_key for check in assets_def.check_keys)]
        groups[assets_def.node_def.name] = graph.get(keys[0]).group_name
        if assets_def.keys and all(key.path[0] == "staged" for key in assets_def.keys):
            staged.add(assets_def.node_def.name)
    return groups, staged


def stage_of(step_key: str, groups: dict[str, str]) -> str | None:
    """The step's stage; a check step unknown to the Definitions (`<asset step>_<check>`) takes its asset's."""
    if step_key in groups:
        return groups[step_key]
    owners = [key for key in groups if step_key.startswith(key + "_")]
    return groups[max(owners, key=len)] if owners else None


def run_stages(data: Path, quarter: str, cap_mib: float | None
               ) -> tuple[list[tuple[str, float | None, float | None]], float | None, bool]:
    """(stage, wall s, peak memory MiB) of one `speval run` (startup, the stages, whole run), the seconds of
    its ingest and staged-table steps, and whether it was stopped. A run stopped over the memory cap reports the steps it finished and the
    one it was in (ended by the stop); the stages it did not reach have no time, the ingest has none unless the
    staged tables were all built, and a last row names the step it was stopped in."""
    import dagster as dg

    from pipelines.cli import STAGES

    groups, staged = step_groups()  # read before the run, from the same code it loads
    with tempfile.TemporaryDirectory(prefix="speval-bench-") as tmp:
        shutil.copy(BENCH_DIR.parent / "dagster.yaml", tmp)
        env = {**os.environ, "DAGSTER_HOME": tmp, "SPEVAL_DAGSTER_STORAGE": str(Path(tmp, ".dagster"))}
        started, ended, samples, stopped = sampled(
            [sys.executable, "-m", "pipelines.cli", "run", "--quarter", quarter, "--data-dir", str(data),
             "--out", str(Path(tmp, "reports")), "--warehouse", str(Path(tmp, "warehouse.duckdb"))],
            env, Path(tmp, "run.log"), cap_mib)
        os.environ.update(DAGSTER_HOME=env["DAGSTER_HOME"], SPEVAL_DAGSTER_STORAGE=env["SPEVAL_DAGSTER_STORAGE"])
        with dg.DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            stats = instance.get_run_step_stats(run.run_id)
            planned = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id).step_keys_to_execute
    # (step, start, end): a step still running when the run was stopped ends with it
    steps = [(s.step_key, s.start_time, ended if s.end_time is None else s.end_time) for s in stats]
    running = [s.step_key for s in stats if s.end_time is None]
    stages = {key: stage_of(key, groups) for key, _, _ in steps}

    def peak(intervals: list[tuple[float, float]]) -> float | None:
        inside = [rss for t, rss in samples if any(start <= t <= end for start, end in intervals)]
        return max(inside, default=None)

    first = min(start for _, start, _ in steps)
    rows = [("startup", first - started, peak([(started, first)]))]
    for stage in STAGES:
        mine = [(start, end) for key, start, end in steps if stages[key] == stage]
        rows.append((stage, sum(end - start for start, end in mine) if mine else None, peak(mine)))
    unknown = sorted(key for key, _, _ in steps if stages[key] not in STAGES)
    if unknown:
        print(f"steps outside the stages, counted in '{OUTSIDE}': {', '.join(unknown)}")
    in_steps = sum(wall or 0 for _, wall, _ in rows[1:])
    rows.append((OUTSIDE, ended - started - rows[0][1] - in_steps, None))
    rows.append(("whole run", ended - started, max(rss for _, rss in samples)))
    ingest_steps = [key for key in planned if stage_of(key, groups) == "ingest" or key in staged]
    finished = {s.step_key for s in stats if s.end_time is not None}
    ingest_staged = sum(end - start for key, start, end in steps if key in ingest_steps) \
        if finished.issuperset(ingest_steps) else None
    if stopped:
        where = ", ".join(running) or "between steps"
        rows.append((f"stopped over the memory cap in {where}", ended - started, cap_mib))
        print(f"\nStopped over the memory cap ({cap_mib:,.0f} MiB) after {ended - started:.0f} s, in {where}")
    print(f"\nThe {LONGEST_STEPS} longest steps ({data.parent.name}): time (s), peak memory while it ran (MiB)")
    for key, start, end in sorted(steps, key=lambda step: step[1] - step[2])[:LONGEST_STEPS]:
        rss = peak([(start, end)])
        print(f"  {key:<45} {end - start:8.2f} {'' if rss is None else f'{rss:,.0f}':>8}")
    return rows, ingest_staged, stopped


def ingested_csvs(data: Path, quarter: str) -> list[str]:
    """The current-delivery CSV files the run reads: HES and outcome tool, of the deliveries it selects."""
    from speval.ingest.contract import HES_FILES, OUTCOME_TOOL_FILES
    from speval.ingest.deliveries import select_deliveries
    from speval.run.quarters import Quarter

    used = select_deliveries(data, Quarter.parse(quarter))
    return [str(data / "hes" / used.hes / spec.filename) for spec in HES_FILES] + \
        [str(data / "outcome_tool" / used.outcome_tool / spec.filename) for spec in OUTCOME_TOOL_FILES]


def bench_scale(scale: float, quarter: str, cap_mib: float | None) -> list[tuple[str, float | None, float | None]]:
    data = OUT / f"scale_{scale:g}" / "data"
    if not (data / "truth.json").is_file():
        subprocess.run([sys.executable, "-m", "pipelines.cli", "demo-data", "--out", str(data), "--scale",
                        str(scale), "--seed", "42"], check=True, cwd=BENCH_DIR.parent, stdout=subprocess.DEVNULL)
    rows, ingest_staged, stopped = run_stages(data, quarter, cap_mib)
    with tempfile.TemporaryDirectory(prefix="speval-bench-") as tmp:
        log = Path(tmp, "read_csv.log")
        *_, samples, _ = sampled([sys.executable, __file__, "--read-csv", *ingested_csvs(data, quarter)],
                                 dict(os.environ), log)
        read_csv_s = float(log.read_text().split()[-1])
    whole = None if stopped else dict((stage, wall) for stage, wall, _ in rows)["whole run"]
    return rows + [("duckdb read_csv", read_csv_s, max(rss for _, rss in samples)),
                   (RATIO_INGEST, None if ingest_staged is None else ingest_staged / read_csv_s, None),
                   (RATIO_RUN, None if whole is None else whole / read_csv_s, None)]


def save(results: dict[float, list[tuple[str, float | None, float | None]]]) -> None:
    """bench/results/pipeline.csv: the scales just run replace their earlier rows; other scales are kept (when
    the file has the same columns)."""
    fields = ["scale", "stage", "wall_s", "peak_memory_mib"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if RESULTS.is_file():
        with RESULTS.open() as f:
            reader = csv.DictReader(f)
            if reader.fieldnames == fields:
                kept = [row for row in reader if float(row["scale"]) not in results]
    new = [{"scale": f"{scale:g}", "stage": stage, "wall_s": "" if wall is None else round(wall, 3),
            "peak_memory_mib": "" if rss is None else round(rss)}
           for scale, rows in results.items() for stage, wall, rss in rows]
    with RESULTS.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(sorted(kept + new, key=lambda row: float(row["scale"])))  # stable: stages keep their order


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=float, nargs="+")
    parser.add_argument("--large", action="store_true", help="add scale x100")
    parser.add_argument("--quarter", default="2013Q4")
    parser.add_argument("--memory-cap-mib", type=float,
                        help="stop a run whose memory goes over this (default: 80%% of the machine's; 0: no cap)")
    parser.add_argument("--read-csv", nargs="+", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_csv:
        read_csv_child(args.read_csv)
        return

    scales = args.scales or [1.0, 10.0, *([100.0] if args.large else [])]
    cap_mib = None if args.memory_cap_mib == 0 else args.memory_cap_mib or memory_cap_mib()
    results = {scale: bench_scale(scale, args.quarter, cap_mib) for scale in scales}
    save(results)
    print(f"\n`speval run --quarter {args.quarter}`, time (s) and peak memory (MiB, proportional set size) per stage\n")
    print("| stage | " + " | ".join(f"×{s:g} time | ×{s:g} peak" for s in scales) + " |")
    print("|---" * (1 + 2 * len(scales)) + "|")
    for stage in dict.fromkeys(stage for scale in scales for stage, *_ in results[scale]):
        cells = []
        for scale in scales:
            _, wall, rss = next((row for row in results[scale] if row[0] == stage), (stage, None, None))
            cells += ["" if wall is None else f"{wall:.2f}" + ("×" if stage.startswith("ratio") else ""),
                      "" if rss is None else f"{rss:,.0f}"]
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print(f"\nWritten to {RESULTS.relative_to(BENCH_DIR.parent)}")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR.parent))
    main()
