"""ADR 0004 row rules, one test per kind, through `speval.validate.rules.validate_file_type` on a hand-written
`raw.<file>` table (text cells as delivered, with provenance): exact duplicates, row defects, mandatory
blanks, values of the wrong type, codes outside a set, ranges, cross-column rules (every `RowRule` of the
contract), the delivery's coverage, key conflicts, parent references and cross-source rules, and the order in
which a row's first failing rule is its reason. The answer per row is (outcome, reason)."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from builders import DEFAULTS
from rules.conftest import STAGED_FILES, STAGED_TYPES
from speval.ingest.contract import SPECS
from speval.validate.rules import typed_expression, validate_file_type
from speval.warehouse import build

VALID = {  # one valid row per file; a case changes some cells
    "persons": {"TOKEN_PERSON_ID": "P1", **DEFAULTS["persons"]},
    "apc": {"TOKEN_PERSON_ID": "P1", "EPIKEY": "E1", "ADMIDATE": "2013-01-10", "EPISTART": "2013-01-10",
            "EPIEND": "2013-01-12", "DISDATE": "2013-01-12", **DEFAULTS["apc"]},
    "ae": {"TOKEN_PERSON_ID": "P1", "AEKEY": "A1", "ARRIVALDATE": "2013-01-10", **DEFAULTS["ae"]},
    "op": {"TOKEN_PERSON_ID": "P1", "ATTENDKEY": "O1", "APPTDATE": "2013-01-10", **DEFAULTS["op"]},
    "referrals": {"REFERRAL_ID": "R1", "TOKEN_PERSON_ID": "P1", "REFERRAL_DATE": "2013-03-15",
                  **DEFAULTS["referrals"]},
    "onward_referrals": {"ONWARD_ID": "N1", "REFERRAL_ID": "R1", "ONWARD_DATE": "2013-03-20",
                         **DEFAULTS["onward_referrals"]},
    "assessments": {"ASSESSMENT_ID": "S1", "REFERRAL_ID": "R1", "ASSESSMENT_DATE": "2013-03-20",
                    "ASSESSMENT_TYPE": "Baseline", "FEELING_POSITIVE": "3"},
    "provider_activity": {"REFERRAL_ID": "R1", "SERVICE_CODE": "S01", "START_DATE": "01/10/2013",
                          "END_DATE": "2013-10-02 00:00:00", "SESSIONS_ATTENDED": "3", "OUTCOME": "Completed"},
}


def raw(con, spec, rows: list[dict], defects: dict[int, str] | None = None) -> None:
    """`raw.<spec>` holding `rows` (text cells; missing cells blank) as ingest writes it: data rows numbered
    from 2 (the header is row 1), each with the hash of all its cells and its structural defect, if any."""
    cells = [[row.get(c) for c in spec.column_names] for row in rows]
    provenance = {
        "delivery": ["2013Q4"] * len(rows), "file": [f"test/{spec.filename}"] * len(rows), "sha256": [""] * len(rows),
        "row_number": list(range(2, len(rows) + 2)),
        "row_hash": [int(hashlib.sha256(repr(c).encode()).hexdigest()[:15], 16) for c in cells],
        "row_defect": [(defects or {}).get(i) for i in range(len(rows))],
    }
    types = {"row_number": "BIGINT", "row_hash": "UBIGINT"}
    columns = [*provenance, *spec.column_names]
    values = [*provenance.values(), *([row[i] for row in cells] for i in range(len(spec.column_names)))]
    select = ", ".join(f'unnest(CAST(? AS {types.get(c, "VARCHAR")}[])) AS "{c}"' for c in columns)
    con.execute(f"CREATE OR REPLACE TABLE raw.{spec.name} AS SELECT {select}", values)


def validate(wh, name: str, *changes: dict, parent_rows: list[dict] | None = None,
             defects: dict[int, str] | None = None) -> list[tuple[str, str | None]]:
    """Validate one row per `changes` (the file's valid row with those cells changed) and return each row's
    (outcome, reason). The file's parent (persons or referrals) is validated from `parent_rows` when given, else
    its one valid row is staged directly (as tests/rules/conftest.py stages rows). Coverage 2011-04-01 to
    2013-12-31."""
    spec, con = SPECS[name], wh.con
    wh.rows = {file: [] for file in wh.rows}
    if spec.parent:
        parent = SPECS[spec.parent[1]]
        if parent_rows is None:
            wh.rows[parent.name] = [VALID[parent.name]]
        else:
            raw(con, parent, parent_rows)
            validate_file_type(con, parent)
    wh.load(tuple(f for f in STAGED_FILES if wh.rows[f]))  # and analysis.parameters
    raw(con, spec, [{**VALID[name], **change} for change in changes], defects)
    validate_file_type(con, spec)
    return con.execute("SELECT outcome, reason FROM audit.row_outcomes WHERE spec = ? ORDER BY row_number",
                       [name]).fetchall()


ACCEPTED = ("accepted", None)


def quarantined(reason: str) -> tuple[str, str]:
    return ("quarantined", reason)


@pytest.fixture
def warehouse(module_wh):
    """One warehouse for the module: every test replaces the raw, staged and audit rows it reads."""
    return module_wh


def test_valid_rows_are_accepted_and_staged_typed(warehouse):
    assert validate(warehouse, "apc", {}) == [ACCEPTED]
    assert warehouse.con.execute("SELECT ADMIDATE, EPIORDER, ADMIMETH FROM staged.apc").fetchall() == [
        (dt.date(2013, 1, 10), 1, "21")]


def test_exact_duplicate_rows_collapse_to_the_first_copy(warehouse):
    assert validate(warehouse, "apc", {}, {}, {"EPIKEY": "E2"}) == [ACCEPTED, ("duplicate", None), ACCEPTED]


def test_every_row_reconciles_read_is_accepted_plus_quarantined_plus_duplicate(warehouse):
    validate(warehouse, "apc", {}, {}, {"EPIKEY": "E2", "CLASSPAT": "6"}, {"EPIKEY": "E3"})
    con = warehouse.con
    con.execute("CREATE OR REPLACE TABLE audit.files AS SELECT 'hes' AS source, 'apc' AS spec, '2013Q4' AS delivery, "
                "'test/apc.csv' AS file, '' AS sha256, 4 AS rows_read")
    build(con, "audit.reconciliation")
    assert con.execute("SELECT * FROM audit.reconciliation").fetchall() == [("hes", "test/apc.csv", 4, 2, 1, 1)]


def test_row_defect_found_while_reading_is_the_reason(warehouse):
    assert validate(warehouse, "provider_activity", {}, {"SERVICE_CODE": "S02"},
                    defects={1: "total row"}) == [ACCEPTED, quarantined("total row")]


def test_mandatory_blank(warehouse):
    assert validate(warehouse, "apc", {"ADMIMETH": ""}, {"EPIKEY": "E2", "PROCODE3": "  "},
                    {"EPIKEY": "E3", "DIAG_4_01": ""}) == [
        quarantined("ADMIMETH: missing"), quarantined("PROCODE3: missing"), ACCEPTED]  # DIAG_4_01 is optional


def test_value_of_the_wrong_type(warehouse):
    assert validate(warehouse, "apc", {"ADMIDATE": "2013-02-30"}, {"EPIKEY": "E2", "EPIORDER": "1.5"},
                    {"EPIKEY": "E3", "DISDATE": "10/01/2013"}) == [
        quarantined("ADMIDATE: not a valid date"), quarantined("EPIORDER: not a valid int"),
        quarantined("DISDATE: not a valid date")]


def test_code_outside_the_contracts_set(warehouse):
    assert validate(warehouse, "apc", {"CLASSPAT": "6"}, {"EPIKEY": "E2", "CLASSPAT": " 5 "},
                    {"EPIKEY": "E3", "EPISTAT": "9"}) == [
        quarantined("CLASSPAT: not one of 1, 2, 3, 4, 5"), ACCEPTED, ACCEPTED]  # EPISTAT has no code set


def test_number_outside_its_range(warehouse):
    assert validate(warehouse, "assessments", {"FEELING_POSITIVE": "0"},
                    {"ASSESSMENT_ID": "S2", "FEELING_POSITIVE": "6"},
                    {"ASSESSMENT_ID": "S3", "FEELING_POSITIVE": "1"}, {"ASSESSMENT_ID": "S4", "LIFESTYLE": "5"}) == [
        quarantined("FEELING_POSITIVE: below 1"), quarantined("FEELING_POSITIVE: above 5"), ACCEPTED, ACCEPTED]


CROSS_COLUMN = {
    # spec: rows (each breaking one RowRule of the spec, or on its boundary) and their reasons
    "persons": [({"REGISTERED_TO": "1999-12-31"}, "REGISTERED_TO before REGISTERED_FROM"),
                ({"REGISTERED_TO": "2000-01-01"}, None),
                ({"YEAR_OF_BIRTH": "1950", "DATE_OF_DEATH": "1949-12-31"}, "DATE_OF_DEATH before YEAR_OF_BIRTH"),
                ({"YEAR_OF_BIRTH": "1950", "DATE_OF_DEATH": "1950-01-01"}, None)],
    "apc": [({"EPISTART": "2013-01-09"}, "EPISTART before ADMIDATE"),
            ({"EPIEND": "2013-01-09"}, "EPIEND before EPISTART"),
            ({"EPISTART": "2013-01-11", "EPIEND": "2013-01-11", "DISDATE": "2013-01-09"}, "DISDATE before ADMIDATE"),
            ({"ADMIMETH": "2a"}, "ADMIMETH is not a 2-character code"),
            ({"ADMIMETH": "211"}, "ADMIMETH is not a 2-character code"),
            ({"ADMIMETH": "2A"}, None),
            ({"ADMIDATE": "2011-03-31", "EPISTART": "2011-04-01"}, "ADMIDATE outside the delivery's coverage"),
            ({"ADMIDATE": "2013-12-31", "EPISTART": "2014-01-01", "EPIEND": "", "DISDATE": ""},
             "EPISTART outside the delivery's coverage")],
    "ae": [({"ARRIVALDATE": "2014-01-01"}, "ARRIVALDATE outside the delivery's coverage")],
    "op": [({"APPTDATE": "2011-03-31"}, "APPTDATE outside the delivery's coverage")],
    "referrals": [({"CLOSED_DATE": "2013-03-14"}, "CLOSED_DATE before REFERRAL_DATE"),
                  ({"CLOSED_DATE": "2013-03-15"}, None),
                  ({"PROGRAMME": "LTC", "MH_DISCHARGE_DATE": "2013-06-01"}, "MH dates on an LTC referral"),
                  ({"PROGRAMME": "MH", "MH_DISCHARGE_REVIEW_DATE": "2013-03-14"},
                   "MH_DISCHARGE_REVIEW_DATE before REFERRAL_DATE"),
                  ({"PROGRAMME": "MH", "MH_DISCHARGE_REVIEW_DATE": "2013-03-15"}, None),
                  ({"PROGRAMME": "MH", "MH_DISCHARGE_DATE": "2013-03-14"}, "MH_DISCHARGE_DATE before REFERRAL_DATE"),
                  ({"PROGRAMME": "MH", "MH_REACCESS_DATE": "2013-03-14"}, "MH_REACCESS_DATE before REFERRAL_DATE"),
                  ({"PROGRAMME": "MH", "MH_DISCHARGE_DATE": "2013-06-01", "MH_REACCESS_DATE": "2013-05-31"},
                   "MH_REACCESS_DATE before MH_DISCHARGE_DATE"),
                  ({"PROGRAMME": "MH", "MH_DISCHARGE_DATE": "2013-06-01", "MH_REACCESS_DATE": "2013-06-01"}, None)],
    "provider_activity": [({"END_DATE": "30/09/2013"}, "END_DATE before START_DATE"),
                          ({"END_DATE": "01/10/2013"}, None)],
}
KEYS = {"persons": "TOKEN_PERSON_ID", "apc": "EPIKEY", "ae": "AEKEY", "op": "ATTENDKEY", "referrals": "REFERRAL_ID",
        "provider_activity": "SERVICE_CODE"}


def test_every_cross_column_rule_of_the_contract_has_a_case():
    reasons = {rule.reason for spec in SPECS.values() for rule in spec.rules}
    assert reasons == {r for rows in CROSS_COLUMN.values() for _, r in rows if r}


@pytest.mark.parametrize("name", CROSS_COLUMN)
def test_cross_column_rules(warehouse, name):
    rows = [{**cells, KEYS[name]: f"K{i}"} for i, (cells, _) in enumerate(CROSS_COLUMN[name])]
    got = validate(warehouse, name, *rows)
    assert got == [quarantined(r) if r else ACCEPTED for _, r in CROSS_COLUMN[name]]


COVERAGE_EDGES = {"2011-03-31": "ARRIVALDATE outside the delivery's coverage", "2011-04-01": None,
                  "2013-12-31": None, "2014-01-01": "ARRIVALDATE outside the delivery's coverage"}


def test_hes_dates_within_the_deliverys_coverage_both_ends_included(warehouse):
    got = validate(warehouse, "ae", *({"AEKEY": day, "ARRIVALDATE": day} for day in COVERAGE_EDGES))
    assert got == [quarantined(r) if r else ACCEPTED for r in COVERAGE_EDGES.values()]


def test_rows_sharing_a_key_but_differing_are_all_quarantined(warehouse):
    conflict = quarantined("conflicting key: EPIKEY shared by rows that differ")
    assert validate(warehouse, "apc", {}, {"ADMIMETH": "11"}, {"EPIKEY": "E2"}, {"EPIKEY": "E2"}) == [
        conflict, conflict, ACCEPTED, ("duplicate", None)]


def test_key_conflict_counts_only_rows_still_valid(warehouse):
    assert validate(warehouse, "apc", {}, {"ADMIMETH": ""}) == [ACCEPTED, quarantined("ADMIMETH: missing")]


def test_parent_missing_or_quarantined(warehouse):
    persons = [VALID["persons"], {**VALID["persons"], "TOKEN_PERSON_ID": "P2", "SEX": "0"}]
    assert validate(warehouse, "ae", {}, {"AEKEY": "A2", "TOKEN_PERSON_ID": "P2"},
                    {"AEKEY": "A3", "TOKEN_PERSON_ID": "P3"},
                    parent_rows=persons) == [
        ACCEPTED, quarantined("TOKEN_PERSON_ID: no valid persons row (missing or quarantined)"),
        quarantined("TOKEN_PERSON_ID: no valid persons row (missing or quarantined)")]


def test_a_referral_needs_no_persons_row(warehouse):
    assert validate(warehouse, "referrals", {"TOKEN_PERSON_ID": "T_NOT_LINKED"}) == [ACCEPTED]  # "not linked" later


@pytest.mark.parametrize("name,column", [("onward_referrals", "ONWARD_DATE"), ("assessments", "ASSESSMENT_DATE")])
def test_dated_before_its_referral(warehouse, name, column):
    key = SPECS[name].key[0]
    assert validate(warehouse, name, {column: "2013-03-14"}, {key: "X2", column: "2013-03-15"}) == [
        quarantined(f"{column} before its referral's REFERRAL_DATE"), ACCEPTED]


def test_a_rows_first_failing_rule_is_its_reason(warehouse):
    # mandatory blank → wrong type → code set → range → cross-column rule
    assert validate(warehouse, "apc",
                    {"EPISTAT": "", "ADMIDATE": "x", "CLASSPAT": "9", "EPIORDER": "0", "EPISTART": "2013-01-01"},
                    {"EPIKEY": "E2", "ADMIDATE": "x", "CLASSPAT": "9", "EPIORDER": "0"},
                    {"EPIKEY": "E3", "CLASSPAT": "9", "EPISTART": "2013-01-01"},
                    {"EPIKEY": "E4", "EPIORDER": "0", "EPISTART": "2013-01-01"},
                    {"EPIKEY": "E5", "EPISTART": "2013-01-09", "TOKEN_PERSON_ID": "P9"}) == [
        quarantined("EPISTAT: missing"), quarantined("ADMIDATE: not a valid date"),
        quarantined("CLASSPAT: not one of 1, 2, 3, 4, 5"), quarantined("EPIORDER: below 1"),
        quarantined("EPISTART before ADMIDATE")]


def test_code_set_comes_before_range_across_columns_as_adr_0004_orders_them(warehouse):
    assert validate(warehouse, "apc", {"EPIORDER": "0", "CLASSPAT": "9"}) == [
        quarantined("CLASSPAT: not one of 1, 2, 3, 4, 5")]


def test_rule_harness_types_staged_tables_as_validation_does(warehouse):
    """tests/rules/conftest.py writes staged tables directly; their columns must have the types validation gives
    them (`staged.<file>` holds each column's `typed_expression`)."""
    got, expected = {}, {}
    for name in STAGED_FILES:
        spec = SPECS[name]
        raw(warehouse.con, spec, [])
        typed = ", ".join(f'{typed_expression(c, spec.is_workbook_sheet)} AS "{c.name}"' for c in spec.columns)
        got[name] = [r[:2] for r in warehouse.con.execute(f"DESCRIBE SELECT {typed} FROM raw.{name}").fetchall()]
        expected[name] = [(c.name, STAGED_TYPES[c.kind]) for c in spec.columns]
    assert got == expected
