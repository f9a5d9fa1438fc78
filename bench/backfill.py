"""Benchmark of a four-partition backfill from the Dagster UI, two runs at a time against one at a time.

    uv run python bench/backfill.py [--partitions "LTC|2013Q4" "LTC|2014Q1" ...] [--scale 1.0]

Generates the demo data (seed 42) under bench/out/backfill/, then for each run limit (1, then 2) starts a real
`dagster dev` with the repository's dagster.yaml (only `max_concurrent_runs` changed), launches one backfill of
the partitions over its GraphQL API, as the UI's "Launch backfill" does, and waits for every run to end. It
reports the wall time from the launch to the last run's end, the runs' own span, and the peak resident memory of
all the processes of that `dagster dev` (web server, daemon, code server and runs), sampled every 0.5 s, and
the longest the web server took to answer the poll (it shares the cores with the runs). Results
are printed and written to bench/out/backfill.json. Never asserted by tests: figures depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT = BENCH_DIR / "out" / "backfill"
# The demo's delivery quarters (a quarter between them falls back on an earlier delivery, and the demo's later
# provider returns then name referrals that export does not hold: those runs stop on the quarantine limit).
PARTITIONS = ["LTC|2013Q4", "LTC|2014Q4", "LTC|2016Q4", "MH|2016Q4"]


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    if "errors" in payload:
        raise SystemExit(f"GraphQL error: {payload['errors']}")
    return payload["data"]


def session_rss_mib(session: int) -> float:
    """Resident memory (MiB) of every process in the session `dagster dev` leads."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != session:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total / 1024


def backfill(max_runs: int, partitions: list[str], data: Path) -> dict:
    work = OUT / f"runs_{max_runs}"
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    home.mkdir(parents=True)
    config = (REPO / "dagster.yaml").read_text(encoding="utf-8")
    (home / "dagster.yaml").write_text(config.replace("max_concurrent_runs: 2", f"max_concurrent_runs: {max_runs}"),
                                       encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DAGSTER_HOME": str(home), "SPEVAL_DAGSTER_STORAGE": str(home / "storage"),
           "SPEVAL_DATA_DIR": str(data), "SPEVAL_OUT_DIR": str(work / "out"),
           "SPEVAL_WAREHOUSE_DIR": str(work / "warehouse")}
    process = subprocess.Popen([str(Path(sys.executable).parent / "dagster"), "dev", "-h", "127.0.0.1", "-p",
                                str(port), "-w", "workspace.yaml"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    peak, sampling = [0.0], [True]

    def sample() -> None:
        while sampling[0]:
            peak[0] = max(peak[0], session_rss_mib(process.pid))
            time.sleep(0.5)

    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(1)
        graphql(port, "{ assetNodes { id } }")  # the code location has loaded
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.time()
        launched = graphql(port, """mutation B($params: LaunchBackfillParams!) {
              launchPartitionBackfill(backfillParams: $params) {
                __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
                           {"params": {"selector": {"partitionSetName": "quarterly_evaluation_partition_set",
                                                    "repositorySelector": {"repositoryLocationName": "speval",
                                                                           "repositoryName": "__repository__"}},
                                       "partitionNames": partitions}})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise SystemExit(f"backfill not launched: {launched}")
        tags = [{"key": "dagster/backfill", "value": launched["backfillId"]}]
        slowest_answer = 0.0  # the web server shares the cores with the runs: at x10 it can take minutes to answer
        while True:
            asked = time.time()
            try:
                runs = graphql(port, """query R($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) {
                      ... on Runs { results { status startTime endTime } } } }""", {"tags": tags},
                               timeout=600)["runsOrError"]["results"]
            except TimeoutError:
                runs = []
            slowest_answer = max(slowest_answer, time.time() - asked)
            if len(runs) == len(partitions) and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
                break
            time.sleep(1)
        sampling[0] = False
        sampler.join()
        return {"max_concurrent_runs": max_runs, "partitions": len(partitions),
                "succeeded": sum(r["status"] == "SUCCESS" for r in runs),
                "wall_s": round(max(r["endTime"] for r in runs) - started, 1),
                "runs_span_s": round(max(r["endTime"] for r in runs) - min(r["startTime"] for r in runs), 1),
                "peak_rss_mib": round(peak[0]), "slowest_answer_s": round(slowest_answer, 1)}
    finally:
        sampling[0] = False
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", nargs="+", default=PARTITIONS, help="partition keys, PROGRAMME|QUARTER")
    parser.add_argument("--scale", type=float, default=1.0, help="demo data scale")
    args = parser.parse_args()
    data = OUT / f"data_scale_{args.scale:g}"
    if not (data / "hes").is_dir():
        subprocess.run([sys.executable, "-m", "pipelines.cli", "demo-data", "--out", str(data), "--scale",
                        str(args.scale), "--seed", "42"], check=True, cwd=REPO)
    results = [backfill(max_runs, args.partitions, data) for max_runs in (1, 2)]
    (OUT.parent / "backfill.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"{len(args.partitions)}-partition backfill, demo scale {args.scale:g}: {', '.join(args.partitions)}")
    print(f"{'runs at a time':>15} {'succeeded':>10} {'wall s':>8} {'runs span s':>12} {'peak RSS MiB':>13} "
          f"{'slowest UI answer s':>20}")
    for r in results:
        print(f"{r['max_concurrent_runs']:>15} {r['succeeded']:>10} {r['wall_s']:>8} {r['runs_span_s']:>12} "
              f"{r['peak_rss_mib']:>13} {r['slowest_answer_s']:>20}")
    one, two = results
    print(f"two at a time / one at a time: wall x{two['wall_s'] / one['wall_s']:.2f}, "
          f"peak memory x{two['peak_rss_mib'] / one['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
