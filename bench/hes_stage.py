"""Benchmark of the HES stage (ingest → validate → core counting tables) at demo scale ×1 and ×10.

    uv run python bench/hes_stage.py [--scales 1 10] [--quarter 2013Q4]

For each scale: generates the demo data (seed 42) under bench/out/, then runs the HES stage of the real
Dagster job (asset selection) in a fresh child process, and reports its wall time and peak resident
memory as measured by /usr/bin/time. Also times the whole `speval run` for context. Results are printed
and written to bench/out/hes_stage.json. Never asserted by tests: figures depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out"
HES_STAGE = [
    "analysis/parameters",
    *(f"{layer}/{name}" for layer in ("raw", "staged") for name in ("persons", "apc", "ae", "op")),
    *(f"core/{name}" for name in ("persons", "inpatient_admissions", "emergency_admissions", "ae_attendances",
                                  "outpatient_appointments", "hospital_events")),
]


def child(data_dir: str, warehouse: str, quarter: str) -> None:
    """Run only the HES stage of the project's job (same Definitions as the UI and `speval run`)."""
    import dagster as dg

    from assets.partitions import partition_key
    from pipelines.definitions import defs

    job = defs.resolve_job_def("quarterly_evaluation")
    run_config = {"resources": {"settings": {"config": {"data_dir": data_dir, "out_dir": str(OUT / "reports")}},
                                "warehouse": {"config": {"database": warehouse}}}}
    result = job.execute_in_process(
        run_config=run_config, instance=dg.DagsterInstance.ephemeral(), partition_key=partition_key(quarter, "LTC"),
        asset_selection=[dg.AssetKey(k.split("/")) for k in HES_STAGE],
    )
    if not result.success:
        raise SystemExit("HES stage failed")


def measured(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of a command, from GNU time."""
    stats = OUT / "time.txt"
    subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(stats), *command], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, kib = stats.read_text().split()[-2:]
    return float(wall), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--quarter", default="2013Q4")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "WAREHOUSE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.quarter)
        return

    OUT.mkdir(exist_ok=True)
    results = []
    for scale in args.scales:
        data = OUT / f"scale_{scale:g}" / "data"
        started = time.perf_counter()
        if not (data / "truth.json").is_file():
            subprocess.run([sys.executable, "-m", "pipelines.cli", "demo-data", "--out", str(data), "--scale",
                            str(scale), "--seed", "42"], check=True, stdout=subprocess.DEVNULL)
        generated = time.perf_counter() - started
        hes_rows = sum(sum(1 for _ in (data / "hes" / args.quarter / f).open()) - 1
                       for f in ("persons.csv", "apc.csv", "ae.csv", "op.csv"))
        warehouse = OUT / f"scale_{scale:g}" / "warehouse.duckdb"
        warehouse.unlink(missing_ok=True)
        stage_wall, stage_rss = measured([sys.executable, __file__, "--quarter", args.quarter,
                                          "--child", str(data), str(warehouse)])
        warehouse.unlink(missing_ok=True)
        run_wall, run_rss = measured([sys.executable, "-m", "pipelines.cli", "run", "--quarter", args.quarter,
                                      "--data-dir", str(data), "--out", str(OUT / "reports"),
                                      "--warehouse", str(warehouse)])
        results.append({"scale": scale, "hes_rows": hes_rows, "generate_s": round(generated, 1),
                        "hes_stage_wall_s": stage_wall, "hes_stage_peak_rss_mib": round(stage_rss),
                        "full_run_wall_s": run_wall, "full_run_peak_rss_mib": round(run_rss)})
    (OUT / "hes_stage.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| scale | HES rows | HES stage wall (s) | HES stage peak RSS (MiB) | full run wall (s) | full run peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| ×{r['scale']:g} | {r['hes_rows']:,} | {r['hes_stage_wall_s']} | {r['hes_stage_peak_rss_mib']} | "
              f"{r['full_run_wall_s']} | {r['full_run_peak_rss_mib']} |")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR.parent))
    main()
