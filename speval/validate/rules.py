"""Row-level validation of the raw layer, compiled from `speval.ingest.contract` into DuckDB SQL.

For each file (docs/contract/rules.md), in this order:
1. exact duplicate rows (every delivered cell equal, within one file) collapse to their first copy;
2. each row's own rules (total row, mandatory blanks, types, code sets, ranges, cross-column rules);
3. key conflicts among the rows still valid: rows sharing a key but differing are all quarantined;
4. references: a row whose parent (person / referral) is missing or quarantined is quarantined.
Outcome per row: `accepted`, `duplicate` or `quarantined` (with the first failing reason). Internal
columns are `_`-prefixed or `__text`-suffixed so they never collide with a contract column (Activity
has one called OUTCOME).
Accepted rows, typed, become `staged.<name>`; `audit.row_outcomes` keeps every row's outcome, so
read = accepted + quarantined + duplicates holds by construction and is checked.
"""
from __future__ import annotations

import duckdb

from speval.ingest.contract import SPECS, Column, FileSpec

# Every rule reads the text through a full-match regex before any cast, and casts with TRY_CAST or
# TRY_STRPTIME, so no delivered value can make the SQL raise: a value that does not fit is NULL, and a
# NULL typed value under a non-blank text is `<column>: not a valid <kind>`.
YEAR = r"([1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"  # four digits, not 0000 (DuckDB's 1 BC; Python has no year 0)
ISO_DATE = rf"{YEAR}-\d{{2}}-\d{{2}}"
TIME = r"( ([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?)?"  # optional ` H:MM[:SS[.fff]]` after a date
# UK day-first text dates as (shape of the date, strptime format): the shape stops `%Y` reading `13` as the
# year 13. Two-digit years go through `%y` like Python's: 00-68 are 2000-2068, 69-99 are 1969-1999.
UK_DATES = (
    (rf"\d{{1,2}}/\d{{1,2}}/{YEAR}", "%d/%m/%Y"), (r"\d{1,2}/\d{1,2}/\d{2}", "%d/%m/%y"),
    (rf"\d{{1,2}}-\d{{1,2}}-{YEAR}", "%d-%m-%Y"), (r"\d{1,2}-\d{1,2}-\d{2}", "%d-%m-%y"),
    (rf"\d{{1,2}}\.\d{{1,2}}\.{YEAR}", "%d.%m.%Y"), (r"\d{1,2}\.\d{1,2}\.\d{2}", "%d.%m.%y"),
)
EXCEL_EPOCH = "DATE '1899-12-30'"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(col: str) -> str:
    return f"nullif(trim({q(col)}), '')"


def _when(text: str, pattern: str, value: str) -> str:
    """`value` when the whole of `text` matches `pattern`, else NULL."""
    return f"CASE WHEN regexp_full_match({text}, '{pattern}') THEN {value} END"


def _finite(text: str) -> str:
    """`text` as a DOUBLE, NULL unless finite: `1e999` would read as infinity."""
    return f"CASE WHEN isfinite(TRY_CAST({text} AS DOUBLE)) THEN TRY_CAST({text} AS DOUBLE) END"


def typed_expression(column: Column, workbook: bool) -> str:
    """SQL turning the delivered text of `column` into its typed value (NULL when blank or invalid)."""
    t = _text(column.name)
    if column.kind in ("str", "code"):
        return t
    if column.kind == "int":
        # Whole numbers that fit BIGINT; workbooks write whole-number cells as `5` but may give `5.0`.
        if workbook:
            return _when(t, r"[+-]?\d+(\.0+)?", f"TRY_CAST(split_part({t}, '.', 1) AS BIGINT)")
        return _when(t, r"[+-]?\d+", f"TRY_CAST({t} AS BIGINT)")
    if column.kind == "float":
        # Plain decimals, exponent allowed; `nan` and `inf` are not numbers the contract means.
        return _when(t, r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", _finite(t))
    if column.kind == "money":
        # `1234.5`, `£1,234.50`, `-£5.00`, `£-5.00`: one sign at most, before or after the £; commas only
        # as thousands separators.
        amount = r"([+-]?£?|£[+-])\s*(\d{1,3}(,\d{3})+|\d+)(\.\d*)?"
        return _when(t, amount, _finite(f"regexp_replace({t}, '[£,\\s]', '', 'g')"))
    if column.kind == "time":
        return _when(t, r"([01]\d|2[0-3]):[0-5]\d", t)
    if column.kind == "date":
        if not workbook:
            return _when(t, ISO_DATE, f"TRY_CAST({t} AS DATE)")
        # Workbooks, never month-first. Excel date cells come from calamine as `YYYY-MM-DD HH:MM:SS[.fff]`
        # and hand-typed dates as UK text, either possibly with a time: the date is kept, the time dropped.
        # A bare 5-digit number is an Excel serial day (its fraction, a time, dropped too).
        parts = [
            _when(t, ISO_DATE + TIME, f"TRY_CAST(left({t}, 10) AS DATE)"),
            *(_when(t, shape + TIME, f"CAST(TRY_STRPTIME(split_part({t}, ' ', 1), '{fmt}') AS DATE)")
              for shape, fmt in UK_DATES),
            _when(t, r"\d{5}(\.\d+)?", f"{EXCEL_EPOCH} + CAST(split_part({t}, '.', 1) AS INTEGER)"),
        ]
        return f"coalesce({', '.join(parts)})"
    raise ValueError(f"unknown column kind {column.kind}")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def row_reasons(spec: FileSpec) -> list[tuple[str, str]]:
    """(condition, reason) pairs in priority order; a row's first true condition is its reason.
    Conditions read the delivered text as `<col>__text` and the typed value as `<col>`."""
    checks: list[tuple[str, str]] = [("row_defect IS NOT NULL", None)]  # reason = the defect itself
    for c in spec.columns:
        if c.mandatory:
            checks.append((f"{q(c.name + '__text')} IS NULL", f"{c.name}: missing"))
    for c in spec.columns:
        if c.kind not in ("str", "code"):
            checks.append(
                (f"{q(c.name + '__text')} IS NOT NULL AND {q(c.name)} IS NULL", f"{c.name}: not a valid {c.kind}")
            )
    for c in spec.columns:  # every code set before any range (ADR 0004's order)
        if c.codes:
            codes = ", ".join(_literal(v) for v in c.codes)
            checks.append(
                (f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN ({codes})",
                 f"{c.name}: not one of {', '.join(c.codes)}")
            )
    for c in spec.columns:
        if c.min is not None:
            checks.append((f"{q(c.name)} < {c.min}", f"{c.name}: below {c.min:g}"))
        if c.max is not None:
            checks.append((f"{q(c.name)} > {c.max}", f"{c.name}: above {c.max:g}"))
    for rule in spec.rules:
        checks.append((f"NOT coalesce({rule.holds}, TRUE)", rule.reason))
    return checks


def outcomes_sql(spec: FileSpec) -> str:
    """SELECT giving every raw row of `spec` with its typed columns, outcome and reason."""
    workbook = spec.is_workbook_sheet
    cols = spec.columns
    text_cols = ", ".join(f"{_text(c.name)} AS {q(c.name + '__text')}" for c in cols)
    typed_cols = ", ".join(f"{typed_expression(c, workbook)} AS {q(c.name)}" for c in cols)
    reason_case = "CASE " + " ".join(
        f"WHEN {cond} THEN {_literal(r) if r is not None else 'row_defect'}" for cond, r in row_reasons(spec)
    ) + " END"
    key_conflict = "FALSE"
    if spec.key:
        key_cols = ", ".join(q(k) for k in spec.key)
        still_valid = "CASE WHEN copy_number = 1 AND own_reason IS NULL THEN 1 ELSE 0 END"
        key_conflict = f"sum({still_valid}) OVER (PARTITION BY file, {key_cols}) > 1"
    parent_join, parent_missing, parent_rules = "", "FALSE", ""
    if spec.parent:
        col, parent = spec.parent
        parent_key = SPECS[parent].key[0]
        # staged.<parent> holds one row per key (conflicting keys were quarantined).
        parent_join = f"LEFT JOIN staged.{parent} parent ON parent.{q(parent_key)} = checked.{q(col)}"
        parent_missing = f"parent.{q(parent_key)} IS NULL"
        parent_reason = f"{col}: no valid {parent} row (missing or quarantined)"
        parent_rules = " ".join(
            f"WHEN NOT coalesce({rule.holds}, TRUE) THEN {_literal(rule.reason)}" for rule in spec.parent_rules
        )
    return f"""
WITH typed AS (
    SELECT delivery, file, sha256, row_number, row_hash, row_defect, {text_cols}, {typed_cols}
    FROM raw.{spec.name}
), numbered AS (
    SELECT *, row_number() OVER (PARTITION BY file, row_hash ORDER BY row_number) AS copy_number
    FROM typed
), own_rules AS (
    SELECT *, CASE WHEN copy_number = 1 THEN {reason_case} END AS own_reason FROM numbered
), keyed AS (
    SELECT *, CASE WHEN copy_number = 1 AND own_reason IS NULL THEN {key_conflict} ELSE FALSE END AS key_conflict
    FROM own_rules
), checked AS (
    SELECT * FROM keyed
)
SELECT checked.* EXCLUDE (own_reason, key_conflict), CASE WHEN copy_number > 1 THEN 'duplicate' END AS _dup,
    CASE
        WHEN copy_number > 1 THEN NULL
        WHEN own_reason IS NOT NULL THEN own_reason
        WHEN key_conflict THEN {_literal(f"conflicting key: {', '.join(spec.key)} shared by rows that differ")}
        {f"WHEN {parent_missing} THEN {_literal(parent_reason)}" if spec.parent else ""}
        {parent_rules}
    END AS _row_reason
FROM checked {parent_join}
"""


def outcomes_with_verdict_sql(spec: FileSpec) -> str:
    """`outcomes_sql` plus `_row_outcome`: duplicate, quarantined (has a reason) or accepted."""
    return f"""
SELECT * EXCLUDE (_dup),
    coalesce(_dup, CASE WHEN _row_reason IS NOT NULL THEN 'quarantined' ELSE 'accepted' END) AS _row_outcome
FROM ({outcomes_sql(spec)})
"""


def validate_file_type(con: duckdb.DuckDBPyConnection, spec: FileSpec) -> dict[str, int]:
    """Build `staged.<name>` and this spec's rows of `audit.row_outcomes`; return outcome counts."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE checked_{spec.name} AS {outcomes_with_verdict_sql(spec)}")
    typed = ", ".join(q(c.name) for c in spec.columns)
    con.execute(
        f"CREATE OR REPLACE TABLE staged.{spec.name} AS "
        f"SELECT delivery, file, row_number, {typed} FROM checked_{spec.name} "
        f"WHERE _row_outcome = 'accepted' ORDER BY file, row_number"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.row_outcomes (source VARCHAR, spec VARCHAR, file VARCHAR, "
        "row_number BIGINT, outcome VARCHAR, reason VARCHAR)"
    )
    con.execute("DELETE FROM audit.row_outcomes WHERE spec = ?", [spec.name])
    con.execute(
        f"INSERT INTO audit.row_outcomes SELECT '{spec.source}', '{spec.name}', file, row_number, _row_outcome, "
        f"_row_reason "
        f"FROM checked_{spec.name}"
    )
    rows = con.execute(
        f"SELECT _row_outcome, count(*) FROM checked_{spec.name} GROUP BY _row_outcome"
    ).fetchall()
    con.execute(f"DROP TABLE checked_{spec.name}")
    counts = {"accepted": 0, "quarantined": 0, "duplicate": 0}
    counts.update(dict(rows))
    return counts
