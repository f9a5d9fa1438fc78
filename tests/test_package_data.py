"""An installed package works outside a checkout: the wheel carries the SQL rules, the report templates, the
analysis plan and the economic reference data, and the code finds them inside the package."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def uv() -> list[str]:
    """uv as the Makefile finds it: on the PATH, or as the system Python's module."""
    return [shutil.which("uv")] if shutil.which("uv") else ["python3", "-m", "uv"]


def test_the_wheel_carries_sql_templates_the_plan_and_reference_data_and_the_code_finds_them(tmp_path):
    subprocess.run([*uv(), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), "-q"], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("speval-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for sql in (REPO / "sql").rglob("*.sql"):
        assert f"speval/_data/sql/{sql.relative_to(REPO / 'sql').as_posix()}" in names, sql
    assert "speval/_data/templates/report.html.j2" in names and "speval/_data/templates/report.css" in names
    assert "speval/_data/analysis_plan.yaml" in names
    for reference in (REPO / "data" / "reference").iterdir():
        assert f"speval/_data/reference/{reference.name}" in names, reference
    assert zipfile.ZipFile(wheel).read("speval/_data/analysis_plan.yaml") == (REPO / "analysis_plan.yaml").read_bytes()
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    probe = ("from speval.package_data import data_folder; from speval.warehouse import sql_text; "
             "print(data_folder('sql')); print(data_folder('templates')); print(len(sql_text('core.persons')) > 0); "
             "from speval.run.plan import load_plan; plan = load_plan(); print(plan.path); print(plan.sha256); "
             "from speval.economics.reference import load_reference; print(data_folder('reference')); "
             "print(len(load_reference(data_folder('reference')).tables))")
    env = os.environ | {"PYTHONPATH": str(installed)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True)
    plan_sha256 = hashlib.sha256((REPO / "analysis_plan.yaml").read_bytes()).hexdigest()
    assert done.stdout.split() == [str(installed / "speval" / "_data" / "sql"),
                                   str(installed / "speval" / "_data" / "templates"), "True",
                                   str(installed / "speval" / "_data" / "analysis_plan.yaml"), plan_sha256,
                                   str(installed / "speval" / "_data" / "reference"), "6"]
