"""Files, folders and deliveries: nothing read is lost, nothing refused leaks, nothing modified slips through
(ADR 0004, ADR 0011, ADR 0014). Each data set is run through the real `speval run` as a user runs it.

- `accepted`: inputs that must be read (workbooks named `.XLSX`/`.xlsm`, pseudonymised keys holding ten
  digits, a quote inside a field), listed as not read (extra files, a `2013q4` folder, an Excel lock file),
  or quarantined (Excel error cells, rows that differ only by a NUL cell). The run succeeds, quietly, and is
  recorded in the DAGSTER_HOME it was given, where an auditor finds what it published.
- `refused`: one file per refusal rule added since the first bad-input corpus; the run exits 1 naming each,
  and none of their contents reach stdout, stderr, the warehouse or the Dagster run history.
- modified deliveries: a manifest edited, a workbook deleted, a return saved as `.xls`.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from builders import BLANK_ROW, DataSet, ExcelError, ProviderWorkbook
from conftest import REPO, Run, run_arguments, speval_cli

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`

QUARTER = "2013Q4"
HES, TOOL, RETURNS = f"hes/{QUARTER}", f"outcome_tool/{QUARTER}", f"provider_returns/{QUARTER}"
NHS = "9434765919"  # valid check digit
NAME = "Hargreaves"


def run_cli(data_dir: Path, root: Path, dagster_home: Path) -> Run:
    """`speval run` in a subprocess, as a user runs it, with DAGSTER_HOME exported and pointing at a folder with
    the repository's dagster.yaml (as `make ui` sets it, and nothing else): runs are recorded there."""
    out, warehouse = root / "out", root / "warehouse.duckdb"
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k != "SPEVAL_DAGSTER_STORAGE"} | {"DAGSTER_HOME": str(dagster_home)}
    done = speval_cli(*run_arguments(data_dir, out, warehouse, QUARTER), env=env)
    return Run(done.returncode, done.stdout, done.stderr, out / "LTC" / QUARTER, warehouse)


def population(root: Path) -> DataSet:
    """A small valid population: four referred patients and four never referred."""
    ds = DataSet(root)
    for n in range(1, 5):
        ds.person(f"P0{n}")
        ds.referral(f"P0{n}", "2013-03-15", REFERRAL_ID=f"R_P0{n}")
        ds.apc(f"P0{n}", "2012-11-10")
        ds.ae(f"P0{n}", "2013-05-01")
        ds.op(f"P0{n}", "2013-06-01")
        ds.person(f"C0{n}")
        ds.apc(f"C0{n}", "2012-12-10")
    return ds


def rewrite_csv(path: Path, change) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(change(rows))


def warehouse_text(run: Run) -> str:
    """Every cell of every table of the warehouse, as one text (to search for leaked values)."""
    parts = []
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        for schema, table in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall():
            parts.append(con.sql(f'SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "{schema}"."{table}"').pl().write_csv())
    return "\n".join(parts)


def leaks(value: str, text: str) -> bool:
    """`value` is in `text`, also when written with other separators (for numbers: its digits in a row)."""
    digits = re.sub(r"[^0-9]", "", value)
    return value in text or (len(digits) >= 10 and digits in re.sub(r"[^0-9]", "", text))


# ---------------------------------------------------------------------------------------------------------
# Read, listed or quarantined: the run succeeds
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def accepted_run(tmp_path_factory, dagster_storage_folder) -> tuple[Run, Path]:
    """The run of the `accepted` data set and the DAGSTER_HOME it was recorded in."""
    root, home = tmp_path_factory.mktemp("accepted"), dagster_storage_folder("accepted_home")
    data = root / "data"
    ds = population(data)
    ds.person("Ta1301460664b")  # a supplier's token with ten digits inside: not an NHS number
    ds.referral("Ta1301460664b", "2013-03-15", REFERRAL_ID="R_1653950269d1")
    ds.apc("P01", "2012-05-01", EPIKEY="E_NUL", DIAG_4_01="")
    ds.onward("R_P01", "2013-04-01", SERVICE_NAME='Men"s shed')  # a quote inside an unquoted field
    ds.write()
    apc = data / HES / "apc.csv"
    text = apc.read_text(encoding="utf-8")
    last = text.splitlines()[-1]
    assert last.endswith(",")  # DIAG_4_01, the last column, is blank
    apc.write_text(text + last + "\x00\r\n", encoding="utf-8")  # the same row but for a NUL in that cell
    onward = data / TOOL / "onward_referrals.csv"
    onward.write_text(onward.read_text(encoding="utf-8").replace('"Men""s shed"', 'Men"s shed'), encoding="utf-8")

    for code in ("VCS08", "VCS09"):
        ProviderWorkbook(data, code).write()
    (data / RETURNS / "VCS08.xlsx").rename(data / RETURNS / "VCS08.XLSX")
    (data / RETURNS / "VCS09.xlsx").rename(data / RETURNS / "VCS09.xlsm")
    book = ProviderWorkbook(data, "VCS10")
    book.sheet("Volunteering", ["MONTH", "VOLUNTEERS", "HOURS"], [
        ["01/10/2013", 3, 12.5],
        ["01/11/2013", 2, ExcelError("#DIV/0!")],
        BLANK_ROW,
        ["01/12/2013", ExcelError("#REF!"), None],
    ])
    book.sheet("Funding", ["FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"], [
        [ExcelError("#REF!"), "£100.00", "01/10/2013", "N"],
    ])
    book.write()
    (data / RETURNS / "~$VCS10.xlsx").write_bytes(b"owner")
    (data / RETURNS / "minutes.pdf").write_bytes(b"%PDF-1.4")
    (data / HES / "apc_old.csv").write_text("x\n")
    (data / "outcome_tool" / "2013q4").mkdir()
    return run_cli(data, root, dagster_home=home), home


@pytest.fixture(scope="module")
def accepted(accepted_run) -> Run:
    return accepted_run[0]


def outcome(run: Run, file: str, row: int) -> tuple:
    return run.query(f"SELECT outcome, reason FROM audit.row_outcomes WHERE file = '{file}' "
                     f"AND row_number = {row}").row(0)


def test_accepted_run_succeeds(accepted):
    assert accepted.exit_code == 0, accepted.stderr[-3000:]
    assert (accepted.run_dir / "evaluation_report.pdf").is_file()


def test_a_successful_run_is_quiet_and_recorded_in_dagster_home(accepted_run):
    """One line for the run, one per stage and the PDF path; DAGSTER_HOME pointing at a folder with the
    repository's dagster.yaml needs no other variable, and the run is in that instance's history."""
    run, home = accepted_run
    assert run.exit_code == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("LTC 2013Q4: HES delivery 2013Q4 (cut-off 2013-12-31), outcome-tool export 2013Q4")
    assert [line.split(":")[0].strip() for line in lines[1:-1]] == [
        "ingest", "validate", "core", "cohorts", "outcomes", "matching", "economics", "report"]
    assert lines[-1] == f"Report: {(run.run_dir / 'evaluation_report.pdf').resolve()}"
    assert run.stderr == ""
    assert any((home / ".dagster").rglob("*.db"))


@pytest.mark.parametrize("quiet", [True, False])
def test_a_browser_message_the_chart_driver_ignores_stays_off_a_quiet_runs_stderr(quiet):
    """choreographer, which drives Chromium for the charts, logs a message it cannot decode as an error with a
    traceback, and then ignores it; once, in CI, that was the only stderr of a successful run."""
    script = ("import logging\n"
              "from pipelines.cli import quiet_chart_browser_log\n"
              f"if {quiet}: quiet_chart_browser_log()\n"
              "logging.getLogger('choreographer.channels.pipe').error('JSONError decoding message. Ignoring')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (result.stderr == "") is quiet, result.stderr


def test_the_command_exits_with_mains_code_after_threads_exit_handlers_and_output(tmp_path):
    """`speval` skips the interpreter's teardown of its modules, and nothing else: a thread still running is
    waited for, exit handlers run (one stops the charts' Chromium), printed lines reach the pipe, and the exit
    code is main's."""
    script = ("import atexit, pathlib, threading, time\n"
              "import pipelines.cli as cli\n"
              f"folder = pathlib.Path({str(tmp_path)!r})\n"
              "def main():\n"
              "    atexit.register(lambda: (folder / 'exit-handler').write_text('ran'))\n"
              "    threading.Thread(target=lambda: (time.sleep(0.5), (folder / 'thread').write_text('done'))).start()\n"
              "    print('last line', end='')\n"
              "    return 3\n"
              "cli.main = main\n"
              "cli.command()\n"
              "(folder / 'teardown').write_text('not skipped')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (3, "last line", "")
    assert (tmp_path / "exit-handler").read_text() == "ran" and (tmp_path / "thread").read_text() == "done"
    assert not (tmp_path / "teardown").exists()


def test_the_run_history_shows_an_auditor_what_was_published(accepted_run):
    """The report's and the manifest's materialisations say which quarter, programme and commit they are, with
    the sha256 of the PDF, the HTML and the manifest as published; the tables carry Markdown previews; checks
    carry numbers the UI can plot."""
    import hashlib

    run, home = accepted_run
    probe = (
        "import dagster as dg, json\n"
        "i = dg.DagsterInstance.get()\n"
        "m = lambda k: {n: v.value for n, v in i.get_latest_materialization_event(dg.AssetKey(k))"
        ".asset_materialization.metadata.items()}\n"
        "checks = {}\n"
        "for r in i.get_runs(limit=1):\n"
        "    for e in i.all_logs(r.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):\n"
        "        ev = e.dagster_event.event_specific_data\n"
        "        checks[ev.asset_check_key.name + '@' + ev.asset_key.to_user_string()] = "
        "{n: v.value for n, v in ev.metadata.items()}\n"
        "print(json.dumps({'manifest': m(['report', 'run_manifest']), 'report': m(['report', 'evaluation_report']),"
        " 'tables': m(['report', 'analysis_tables']), 'checks': checks}, default=str))"
    )
    # The CLI fills in the storage folder dagster.yaml asks for (DAGSTER_HOME/.dagster); a plain Dagster process
    # is given it, as `make ui` gives it to `dagster dev`.
    env = os.environ | {"DAGSTER_HOME": str(home), "SPEVAL_DAGSTER_STORAGE": str(home / ".dagster")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    folder = run.run_dir
    sha = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
           for name in ("evaluation_report.pdf", "evaluation_report.html", "run_manifest.json")}
    for asset in ("manifest", "report"):
        assert (seen[asset]["quarter"], seen[asset]["programme"]) == ("2013Q4", "LTC")
        assert len(seen[asset]["git_commit"]) == 40 or seen[asset]["git_commit"] == "unknown"
        assert seen[asset]["pdf_sha256"] == sha["evaluation_report.pdf"]
        assert seen[asset]["html_sha256"] == sha["evaluation_report.html"]
    assert seen["manifest"]["manifest_sha256"] == sha["run_manifest.json"]
    assert seen["manifest"]["report_pdf"] == (folder / "evaluation_report.pdf").resolve().as_uri()
    assert seen["tables"]["preview_attrition"].startswith("| cohort | step | n |")
    assert isinstance(seen["checks"]["quarantine_share_below_5pct@staged/apc"]["max_quarantined_pct"], float)


@pytest.mark.parametrize("workbook", ["VCS08.XLSX", "VCS09.xlsm"])
def test_workbooks_are_read_whatever_the_case_of_their_suffix(accepted, workbook):
    files = set(accepted.table("reconciliation")["file"])
    assert {f"{RETURNS}/{workbook}#{sheet}" for sheet in ("Cover", "Activity", "Volunteering", "Welfare",
                                                          "Funding")} <= files


def test_excel_error_cells_quarantine_their_row_instead_of_passing_for_blanks(accepted):
    sheet = f"{RETURNS}/VCS10.xlsx#Volunteering"
    assert outcome(accepted, sheet, 4) == ("accepted", None)
    assert outcome(accepted, sheet, 5) == ("quarantined", "Excel error #DIV/0! in column C")
    assert outcome(accepted, sheet, 7) == ("quarantined", "Excel error #REF! in column B")
    assert outcome(accepted, f"{RETURNS}/VCS10.xlsx#Funding", 4) == ("quarantined", "Excel error #REF! in column A")


def test_a_nul_cell_is_not_a_blank_so_the_rows_conflict_instead_of_collapsing(accepted):
    rows = accepted.query(f"SELECT outcome, reason FROM audit.row_outcomes WHERE file = '{HES}/apc.csv' "
                          "AND row_number IN (10, 11)").rows()
    assert rows == [("quarantined", "conflicting key: EPIKEY shared by rows that differ")] * 2


def test_a_quote_inside_a_field_is_read_as_written(accepted):
    names = accepted.query("SELECT SERVICE_NAME FROM staged.onward_referrals")["SERVICE_NAME"].to_list()
    assert 'Men"s shed' in names


def test_pseudonymised_keys_holding_ten_digits_are_not_refused(accepted):
    assert accepted.query("SELECT count(*) AS n FROM staged.persons WHERE TOKEN_PERSON_ID = 'Ta1301460664b'")["n"][0] == 1


def test_files_and_folders_not_read_are_listed_with_the_reason(accepted):
    listed = dict(accepted.query("SELECT file, note FROM audit.delivery_files WHERE status = 'not read'").rows())
    assert set(listed) == {f"{RETURNS}/~$VCS10.xlsx", f"{RETURNS}/minutes.pdf", f"{HES}/apc_old.csv",
                           "outcome_tool/2013q4/"}
    assert "not a quarter key" in listed["outcome_tool/2013q4/"]
    assert "lock file" in listed[f"{RETURNS}/~$VCS10.xlsx"]


def test_files_not_read_are_in_the_run_manifest_and_the_report(accepted):
    manifest = json.loads((accepted.run_dir / "run_manifest.json").read_text())
    assert {f["file"] for f in manifest["not_read"]} == {f"{RETURNS}/~$VCS10.xlsx", f"{RETURNS}/minutes.pdf",
                                                         f"{HES}/apc_old.csv", "outcome_tool/2013q4/"}
    text = subprocess.run(["pdftotext", "-layout", str(accepted.run_dir / "evaluation_report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "Found but not read" in text and "minutes.pdf" in text and "outcome_tool/2013q4/" in text


def test_the_hes_manifest_is_hashed(accepted):
    import hashlib

    manifest = accepted.query("SELECT file, sha256 FROM audit.delivery_files WHERE status = 'read'").rows()
    path = accepted.run_dir.parent.parent.parent / "data" / HES / "manifest.json"
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest == [(f"{HES}/manifest.json", sha256)]
    inputs = json.loads((accepted.run_dir / "run_manifest.json").read_text())["inputs"]
    assert {"file": f"{HES}/manifest.json", "sha256": sha256} in [{k: f[k] for k in ("file", "sha256")} for f in inputs]


# ---------------------------------------------------------------------------------------------------------
# Refused whole: the run exits 1 naming each file, and nothing of them is kept or printed
# ---------------------------------------------------------------------------------------------------------

WITHHELD = (NHS, NAME, "S60 2UD", "401 023 2137", "450\u2013557\u20133451")

REFUSALS = {
    "stray quote": f"{TOOL}/onward_referrals.csv: refused — not a readable CSV: a quoted field starting in row 3 "
                   f"is not closed",
    "NHS number with no-break spaces": f"{HES}/persons.csv: refused — row 3, column 'LSOA11' holds a valid NHS number",
    "NHS number in free text with en dashes": f"{TOOL}/referrals.csv: refused — row 2, column 'REFERRAL_SOURCE' holds "
                                              f"a valid NHS number",
    "column named twice": f"{HES}/apc.csv: refused — column CLASSPAT appears more than once in the header",
    "header only": f"{HES}/ae.csv: refused — a header and no rows",
    "column named with punctuation": f"{HES}/op.csv: refused — column 'D.O.B.' is a direct identifier",
    "patient name column": f"{TOOL}/assessments.csv: refused — column 'Patient Name' is a direct identifier",
    "look-alike sheets": f"{RETURNS}/VCS01.xlsx: refused — sheets 'Activity', 'ACTIVITY.' all read as the Activity "
                         f"sheet",
    "repeated workbook header": f"{RETURNS}/VCS02.xlsx#Activity: refused — column OUTCOME appears more than once",
    "Cover names another quarter": f"{RETURNS}/VCS03.xlsx#Cover: refused — the Cover's quarter does not match the "
                                   f"file's folder (2013Q4)",
    "Cover names another provider": f"{RETURNS}/VCS04.xlsx#Cover: refused — the Cover's provider code does not "
                                    f"match the file's name (VCS04)",
    "file named with an NHS number": f"{RETURNS}/<name withheld: it holds a valid NHS number>: refused — the file "
                                     f"name holds a valid NHS number",
    "sheet named with an NHS number": f"{RETURNS}/VCS05.xlsx: refused — the name of sheet 1 holds a valid NHS number",
    "postcode in free text": f"{RETURNS}/VCS06.xlsx#Funding: refused — row 4, column 'A' holds a full UK postcode",
    "NHS number from a number cell": f"{RETURNS}/VCS07.xlsx#Welfare: refused — row 4, column 'D' holds a valid NHS "
                                     f"number",
}


def build_refused(data: Path) -> None:
    ds = population(data)
    ds.onward("R_P01", "2013-04-01", SERVICE_NAME="Befriending")
    ds.onward("R_P02", "2013-04-01", SERVICE_NAME='"Walking group, then')  # a quote that never closes
    ds.onward("R_P03", "2013-04-01", SERVICE_NAME=f"Call {NAME} on {NHS}")
    ds.assessment("R_P01", "2013-03-20")
    ds.write()
    onward = data / TOOL / "onward_referrals.csv"
    onward.write_text(onward.read_text(encoding="utf-8").replace('"""Walking group, then"', '"Walking group, then'),
                      encoding="utf-8")

    def set_cell(row: int, column: str, value: str):
        def change(rows):
            rows[row - 1][rows[0].index(column)] = value
            return rows
        return change

    rewrite_csv(data / HES / "persons.csv", set_cell(3, "LSOA11", "943\u00a0476\u00a05919"))
    rewrite_csv(data / TOOL / "referrals.csv", set_cell(2, "REFERRAL_SOURCE", "GP letter re 450\u2013557\u20133451"))
    rewrite_csv(data / HES / "apc.csv", lambda rows: [rows[0] + ["CLASSPAT"]] + [r + ["1"] for r in rows[1:]])
    rewrite_csv(data / HES / "ae.csv", lambda rows: rows[:1])
    rewrite_csv(data / HES / "op.csv", lambda rows: [rows[0] + ["D.O.B."]] + [r + [""] for r in rows[1:]])
    rewrite_csv(data / TOOL / "assessments.csv", lambda rows: [rows[0] + ["Patient Name"]] + [r + [NAME] for r in rows[1:]])

    activity = ["REFERRAL_ID", "SERVICE_CODE", "START_DATE", "END_DATE", "SESSIONS_ATTENDED", "OUTCOME"]
    book = ProviderWorkbook(data, "VCS01")
    book.sheet("Activity", activity, [["R_P01", "S01", "01/10/2013", None, 2, "Ongoing"]])
    book.sheet("ACTIVITY.", activity, [["R_P02", "S01", "02/10/2013", None, 1, "Ongoing"]])
    book.write()
    book = ProviderWorkbook(data, "VCS02")
    book.sheet("Activity", activity + ["Outcome"], [["R_P01", "S01", "01/10/2013", None, 2, "Ongoing", "Completed"]])
    book.write()
    book = ProviderWorkbook(data, "VCS03")
    book.sheet("Cover", ["FIELD", "VALUE"], [["Provider name", "X"], ["Provider code", "VCS03"], ["Quarter", "2013Q3"]])
    book.write()
    book = ProviderWorkbook(data, "VCS04")
    book.sheet("Cover", ["FIELD", "VALUE"], [["Provider code", "VCS99"], ["Quarter", "Q4 2013"]])
    book.write()
    ProviderWorkbook(data, NHS).write()
    book = ProviderWorkbook(data, "VCS05")
    book.sheet("943 476 5919", ["Notes"], [["none"]])
    book.write()
    book = ProviderWorkbook(data, "VCS06")
    book.sheet("Funding", ["FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"],
               [["Community centre, Main St, S60 2UD", "£100.00", "01/10/2013", "N"]])
    book.write()
    book = ProviderWorkbook(data, "VCS07")
    book.sheet("Welfare", ["REFERRAL_ID", "BENEFIT_TYPE", "AWARD_DATE", "WEEKLY_AMOUNT_GBP"],
               [["R_P01", "Attendance Allowance", "01/10/2013", f"{NHS}.0"]])
    book.write()


@pytest.fixture(scope="module")
def refused(tmp_path_factory, dagster_storage_folder):
    root, home = tmp_path_factory.mktemp("refused"), dagster_storage_folder("dagster_home")
    build_refused(root / "data")
    return run_cli(root / "data", root, dagster_home=home), home


def test_refused_run_exits_1_without_a_report(refused):
    run, _ = refused
    assert run.exit_code == 1
    assert not any(run.run_dir.glob("evaluation_report.*"))


@pytest.mark.parametrize("defect", REFUSALS)
def test_each_refused_file_is_named_with_its_rule(refused, defect):
    run, _ = refused
    assert REFUSALS[defect] in run.stderr, run.stderr[-4000:]


@pytest.mark.parametrize("value", WITHHELD)
def test_nothing_of_a_refused_file_is_printed_or_stored(refused, value):
    run, dagster_home = refused
    assert not leaks(value, run.stdout + run.stderr)
    assert not leaks(value, warehouse_text(run))
    history = b"".join(p.read_bytes() for p in dagster_home.rglob("*") if p.is_file())
    assert b"onward_referrals.csv: refused" in history  # the run history holds the refusal...
    assert value.encode() not in history  # ...never the contents


# ---------------------------------------------------------------------------------------------------------
# Deliveries must not be modified: every file a run used stays as it was
# ---------------------------------------------------------------------------------------------------------


def test_an_edited_manifest_a_deleted_workbook_and_an_xls_return_are_refused(tmp_path, run_speval):
    """In-process runs on one warehouse (the refusals are the CLI's own lines either way)."""
    data = tmp_path / "data"
    population(data).write()
    for code in ("VCS01", "VCS02"):
        ProviderWorkbook(data, code).write()
    assert run_speval(data).exit_code == 0

    manifest = data / HES / "manifest.json"
    original = manifest.read_text()
    manifest.write_text(json.dumps({**json.loads(original), "cutoff": "2013-09-30"}))
    run = run_speval(data)
    assert run.exit_code == 1
    assert f"{HES}/manifest.json: refused — the delivered file changed since this warehouse ingested it" in run.stderr
    manifest.write_text(original)  # restored: the refusal below is the workbook's alone

    workbook = data / RETURNS / "VCS02.xlsx"
    kept = workbook.read_bytes()
    workbook.unlink()
    run = run_speval(data)
    assert run.exit_code == 1
    assert f"{RETURNS}/VCS02.xlsx: refused — ingested by this warehouse before, now missing from delivery" in run.stderr
    workbook.write_bytes(kept)

    (data / RETURNS / "VCS03.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    run = run_speval(data)
    assert run.exit_code == 1
    assert f"{RETURNS}/VCS03.xls: refused — provider returns must be .xlsx or .xlsm workbooks" in run.stderr
    assert not any(run.run_dir.glob("evaluation_report.*"))


# ---------------------------------------------------------------------------------------------------------
# File rules, one file at a time
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["persons", "apc", "ae", "op", "referrals", "onward_referrals", "assessments"])
def test_a_header_without_rows_is_refused_for_hes_files_and_referrals_only(tmp_path, name):
    from speval.ingest.contract import SPECS
    from speval.ingest.files import FileRefused, read_csv_file

    spec = SPECS[name]
    path = tmp_path / "delivery" / spec.filename
    path.parent.mkdir()
    path.write_text(",".join(spec.column_names) + "\n", encoding="utf-8")
    if spec.source == "hes" or name == "referrals":
        with pytest.raises(FileRefused, match=f"delivery/{spec.filename}: refused — a header and no rows"):
            read_csv_file(path, tmp_path, spec, QUARTER)
    else:
        assert read_csv_file(path, tmp_path, spec, QUARTER).rows_read == 0


@pytest.mark.parametrize("extra", ["sex", "SEX", " Sex "])
def test_a_column_named_twice_in_any_case_is_refused(tmp_path, extra):
    from speval.ingest.contract import SPECS
    from speval.ingest.files import FileRefused, read_csv_file

    spec = SPECS["persons"]
    path = tmp_path / "persons.csv"
    row = {"TOKEN_PERSON_ID": "P1", "YEAR_OF_BIRTH": "1950", "SEX": "1", "GPPRAC": "C87001",
           "REGISTERED_FROM": "2000-01-01"}
    header = list(spec.column_names) + [extra]
    path.write_text(",".join(header) + "\n" + ",".join(row.get(h, "") for h in header[:-1]) + ",2\n", encoding="utf-8")
    with pytest.raises(FileRefused, match="refused — column SEX appears more than once in the header"):
        read_csv_file(path, tmp_path, spec, QUARTER)
