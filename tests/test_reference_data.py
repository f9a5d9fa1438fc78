"""The committed economic reference data (data/reference/; speval/economics/reference.py): it loads with no
problem and meets its Great Expectations suites; a copy with one planted defect per rule is refused with a
ReferenceDataError naming the file (as data/reference/<name>.csv, never the machine path), the row (row 1 = the
first data row) and the rule. Two rules concern something absent — a well-being proxy with no row, a file
not there — so their message names the file and what is missing, and there is no row to name."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from speval.economics.reference import REFERENCE_FILES, ReferenceDataError, load_reference
from speval.validate.expectations import reference_suite, run_suite

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"
NAMES = [r.name for r in REFERENCE_FILES]


@pytest.fixture(scope="module")
def committed():
    return load_reference(REFERENCE)


def test_the_committed_files_load_with_no_problem(committed):
    assert sorted(committed.tables) == sorted(NAMES)
    assert sorted(committed.sha256) == sorted(f"{n}.csv" for n in NAMES)
    for name, table in committed.tables.items():
        assert table.height > 0, name
        assert table["row"].to_list() == list(range(1, table.height + 1)), name
        assert set(table["status"]) <= {"published", "derived", "illustrative"}, name


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_files_meet_their_expectation_suites(committed, name):
    frame = committed.tables[name].drop("row").to_pandas()
    assert run_suite(f"reference_{name}", frame, reference_suite(name)) == []


def test_the_expectation_suite_is_not_vacuous(committed):
    """The same suite fails a table with a status outside the vocabulary and a duplicated key."""
    frame = committed.tables["programme_costs"].drop("row").to_pandas()
    frame.loc[0, "status"] = "draft"
    frame.loc[2, "financial_year"] = frame.loc[1, "financial_year"]
    failed = run_suite("reference_programme_costs_planted", frame, reference_suite("programme_costs"))
    assert {(f["expectation"], f["column"]) for f in failed} == {
        ("expect_column_values_to_be_in_set", "status"),
        ("expect_compound_columns_to_be_unique", "programme, financial_year"),
    }


# ------------------------------------------------------------------------------------------ planted defects
def _read(folder: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def _write(folder: Path, name: str, fields: list[str], rows: list[dict[str, str]]) -> None:
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _set(folder: Path, name: str, row: int, **values: str) -> None:
    """Set cells of data row `row` (1 = the first data row)."""
    fields, rows = _read(folder, name)
    assert all(rows[row - 1][k] != v for k, v in values.items()), "the defect must change the file"
    rows[row - 1].update(values)
    _write(folder, name, fields, rows)


def _drop(folder: Path, name: str, **match: str) -> None:
    fields, rows = _read(folder, name)
    kept = [r for r in rows if any(r[k] != v for k, v in match.items())]
    assert len(kept) == len(rows) - 1
    _write(folder, name, fields, kept)


DEFECTS = {
    "blank source": (
        lambda d: _set(d, "unit_costs", 2, source="  "),
        "data/reference/unit_costs.csv row 2: source is blank"),
    "status not in the vocabulary": (
        lambda d: _set(d, "price_index", 3, status="draft"),
        "data/reference/price_index.csv row 3: status is not one of published, derived, illustrative"),
    "cost not a number": (
        lambda d: _set(d, "programme_costs", 2, cost_gbp="£573,769"),
        "data/reference/programme_costs.csv row 2: cost_gbp is not a number"),
    "cost NaN": (
        lambda d: _set(d, "programme_costs", 2, cost_gbp="NaN"),
        "data/reference/programme_costs.csv row 2: cost_gbp is not a number"),
    "adjustment infinite": (
        lambda d: _set(d, "sroi_adjustments", 1, value="inf"),
        "data/reference/sroi_adjustments.csv row 1: value is not a number"),
    "financial year 2013-14": (
        lambda d: _set(d, "price_index", 4, financial_year="2013-14"),
        "data/reference/price_index.csv row 4: financial_year is not a financial year written like 2013/14"),
    "duplicate key": (  # rows 2 and 3 both LTC 2013/14
        lambda d: _set(d, "programme_costs", 3, financial_year="2013/14"),
        "data/reference/programme_costs.csv row 2, 3: more than one row for the same programme and "
        "financial_year"),
    "wage periods overlapping": (  # row 1 now runs past the start of row 2 (2012-10-01)
        lambda d: _set(d, "wages", 1, valid_to="2012-10-15"),
        "data/reference/wages.csv row 1: a rate must end the day before the next rate of the same wage starts"),
    "missing well-being proxy for a measure": (
        lambda d: _drop(d, "wellbeing_proxies", measure="money", basis="wellby"),
        "data/reference/wellbeing_proxies.csv: no row for money wellby"),
    "a missing file": (
        lambda d: (d / "sroi_adjustments.csv").unlink(),
        "data/reference/sroi_adjustments.csv is missing"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_planted_defect_is_refused_naming_file_row_and_rule(tmp_path, defect):
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE, folder)
    load_reference(folder)  # the untouched copy loads
    plant, expected = DEFECTS[defect]
    plant(folder)
    with pytest.raises(ReferenceDataError) as refused:
        load_reference(folder)
    message = str(refused.value)
    problems = message.split("\n  - ")[1:]
    assert message.startswith("reference data refused:")
    assert problems == [expected], message  # exactly this one problem, worded exactly so
    assert str(tmp_path) not in message  # named as the evaluator knows it, not by the machine path
