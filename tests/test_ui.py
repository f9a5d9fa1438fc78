"""The Dagster UI, for real: `dagster dev` with the repo's instance config and persistent storage,
lineage over its GraphQL API, a run launched as the Launchpad does it, and the lineage page loaded in
Debian's headless Chromium."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from builders import DataSet

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    storage = tmp_path_factory.mktemp("dagster_storage")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(REPO), "SPEVAL_DAGSTER_STORAGE": str(storage)}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port),
         "-w", "workspace.yaml"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("dagster dev did not start within 120 s")
        yield port, storage
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_lineage_runs_from_every_raw_file_to_the_report(dagster_ui):
    port, _ = dagster_ui
    nodes = _graphql(port, "{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
    downstream: dict[str, set[str]] = {}
    keys = set()
    for node in nodes:
        key = "/".join(node["assetKey"]["path"])
        keys.add(key)
        for dep in node["dependencyKeys"]:
            downstream.setdefault("/".join(dep["path"]), set()).add(key)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            key = todo.pop()
            if key == goal:
                return True
            if key not in seen:
                seen.add(key)
                todo.extend(downstream.get(key, ()))
        return False

    raw = sorted(k for k in keys if k.startswith("raw/"))
    # 4 HES files, 3 outcome-tool files, 5 provider-return sheets, and the previous HES delivery's 4 files
    # (compared with, for the data-quality appendix)
    assert len(raw) == 16
    for key in raw:
        assert reaches(key, "report/evaluation_report"), key
        assert reaches(key, "report/run_manifest"), key


def test_run_launched_from_the_ui_succeeds_and_is_kept(dagster_ui, tmp_path):
    port, storage = dagster_ui
    ds = DataSet(tmp_path / "data")
    ds.person("P1")
    ds.apc("P1", "2013-01-10")
    ds.ae("P1", "2013-02-01")
    ds.op("P1", "2013-02-02")
    ds.referral("P1", "2013-03-15")
    ds.write()
    location = _graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
    location_name = location["workspaceOrError"]["locationEntries"][0]["name"]
    assert location_name == "speval"  # workspace.yaml names the code location
    run_config = {"resources": {
        "settings": {"config": {"quarter": "2013Q4", "programme": "LTC", "data_dir": str(tmp_path / "data"),
                                "out_dir": str(tmp_path / "out")}},
        "warehouse": {"config": {"database": str(tmp_path / "ui.duckdb")}},
    }}
    launched = _graphql(port, """
        mutation Launch($params: ExecutionParams!) {
          launchRun(executionParams: $params) {
            __typename
            ... on LaunchRunSuccess { run { runId } }
            ... on PythonError { message }
            ... on RunConfigValidationInvalid { errors { message } }
          }
        }""", {"params": {"selector": {"repositoryLocationName": location_name, "repositoryName": "__repository__",
                                       "jobName": "quarterly_evaluation"},
                          "runConfigData": run_config}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = _graphql(port, "query R($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                          {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"
    assert (tmp_path / "out" / "LTC" / "2013Q4" / "evaluation_report.pdf").is_file()
    assert (storage / "runs.db").is_file() or any(storage.rglob("*.db"))  # run history persisted


def test_lineage_page_renders_in_chromium(dagster_ui, tmp_path):
    port, _ = dagster_ui
    url = f"http://127.0.0.1:{port}/assets/report/run_manifest?view=lineage&lineageScope=upstream&lineageDepth=2"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=25000"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for name in ("run_manifest", "evaluation_report", "analysis_tables"):
        assert name in dom, name
    shot = tmp_path / "lineage.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1400,900", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000
