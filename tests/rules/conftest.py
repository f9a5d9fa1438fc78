"""Fast, per-patient tests of the SQL rules in `sql/`, without Dagster, files or a pipeline run.

A test gets `wh`: an in-memory warehouse (`speval.warehouse.connect()`) and a `DataSet` at once. Rows are
written patient by patient with the same helpers the file-based tests use (`wh.person`, `wh.apc`, `wh.ae`,
`wh.op`, `wh.referral`, `wh.onward`, `wh.assessment`; contract-valid defaults, contract column names), but
instead of being written to CSV they become the accepted rows of `staged.<file>`, typed as validation types
them. `wh.build("core.emergency_admissions")` then runs the SQL files that table reads, in order, and the
table's own, exactly as the pipeline's assets do (`speval.warehouse.build`). Families of per-patient cases
under the same parameters share one build per module (`module_wh`, one patient per case), which keeps a module
well under a second: a DuckDB connection and a chain of SQL builds cost 20-60 ms each.

Run parameters (`analysis.parameters`) default to the ones the file-based tests use: reporting quarter
2013Q4 (quarter_end 2013-12-31), programme LTC, HES coverage 2011-04-01 to cutoff 2013-12-31, follow-up
84–140 days; change them with `wh.parameters(cutoff="2013-09-14", ...)`.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from builders import DataSet
from speval.ingest.contract import SPECS
from speval.warehouse import SQL_DIR, build, connect, sql_with_macros, write_reference_tables

# The pattern of `assets.sql_table.referenced_tables` (the asset graph's lineage), restated so these tests do
# not import Dagster (~2 s).
_TABLE_REF = re.compile(r"\b(raw|staged|core|analysis|audit|reference)\.([a-z_]+)\b")

# How `speval.validate.rules.typed_expression` types each contract column kind in `staged` (checked by
# tests/rules/test_validation_rules.py::test_rule_harness_types_staged_tables_as_validation_does).
STAGED_TYPES = {"str": "VARCHAR", "code": "VARCHAR", "time": "VARCHAR", "int": "BIGINT", "float": "DOUBLE",
                "money": "DOUBLE", "date": "DATE"}
STAGED_FILES = ("persons", "apc", "ae", "op", "referrals", "onward_referrals", "assessments")

DEFAULT_PARAMETERS = {
    "quarter": "2013Q4",
    "quarter_start": dt.date(2013, 10, 1),
    "quarter_end": dt.date(2013, 12, 31),
    "programme": "LTC",
    "coverage_start": dt.date(2011, 4, 1),
    "cutoff": dt.date(2013, 12, 31),
    "followup_min_days": 84,
    "followup_max_days": 140,
    "wellbeing_valuation": "hact_wellbeing_valuation",
}


def referenced_tables(name: str) -> list[str]:
    """The tables the SQL file of `name` reads (comments ignored), as the asset graph sees them."""
    sql = re.sub(r"--[^\n]*", "", sql_with_macros(name))
    return sorted({f"{s}.{t}" for s, t in _TABLE_REF.findall(sql)} - {name})


def has_sql(name: str) -> bool:
    schema, table = name.split(".")
    return (SQL_DIR / schema / f"{table}.sql").is_file()


def build_order(name: str) -> list[str]:
    """`name` after every SQL table it depends on (directly or not), each once, dependencies first."""
    order: list[str] = []

    def visit(table: str) -> None:
        if table in order or not has_sql(table):
            return
        for upstream in referenced_tables(table):
            visit(upstream)
        order.append(table)

    visit(name)
    return order


def _as_date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


class RuleWarehouse(DataSet):
    """A `DataSet` whose rows go to `staged.*` of an in-memory DuckDB instead of CSV files."""

    def __init__(self, con):
        super().__init__(Path("(not written)"))
        self.con = con
        self.params = dict(DEFAULT_PARAMETERS)

    def parameters(self, **changes) -> None:
        """Change run parameters; dates may be given as ISO text."""
        unknown = set(changes) - set(DEFAULT_PARAMETERS)
        assert not unknown, f"not a run parameter: {unknown}"
        self.params.update({k: _as_date(v) if isinstance(DEFAULT_PARAMETERS[k], dt.date) else v
                            for k, v in changes.items()})

    def load(self, files: tuple[str, ...] = STAGED_FILES) -> None:
        """(Re)create analysis.parameters and `files` of staged from the rows written so far: blank text is
        NULL and values are trimmed and typed as validation does; exact duplicate rows collapse to one (staged
        holds accepted rows only)."""
        sql_type = {dt.date: "DATE", str: "VARCHAR", int: "BIGINT"}
        columns = ", ".join(f"CAST(? AS {sql_type[type(v)]}) AS {n}" for n, v in self.params.items())
        self.con.execute(f"CREATE OR REPLACE TABLE analysis.parameters AS SELECT {columns}",
                         list(self.params.values()))
        write_reference_tables(self.con)
        for name in files:
            spec = SPECS[name]
            for row in self.rows[name]:
                assert set(row) <= set(spec.column_names), f"not a {name} column: {set(row) - set(spec.column_names)}"
            unique = list(dict.fromkeys(tuple(row.get(c) for c in spec.column_names) for row in self.rows[name]))
            columns = list(zip(*unique)) or [()] * len(spec.columns)  # one list of texts per column
            typed = ", ".join(f"CAST(nullif(trim(unnest(CAST(? AS VARCHAR[]))), '') AS {STAGED_TYPES[c.kind]}) "
                              f"AS \"{c.name}\"" for c in spec.columns)
            self.con.execute(f"CREATE OR REPLACE TABLE staged.{name} AS SELECT 'test' AS delivery, "
                             f"'{spec.filename}' AS file, CAST(row_number() OVER () + 1 AS BIGINT) AS row_number, "
                             f"* FROM (SELECT {typed})", [list(c) for c in columns])

    def build(self, name: str) -> int:
        """Load the rows, then build `name` after the SQL tables it reads, as the pipeline does; its row count."""
        assert has_sql(name), f"no SQL file for {name}"
        order = build_order(name)
        self.load(tuple(f for f in STAGED_FILES if any(f"staged.{f}" in referenced_tables(t) for t in order)))
        for table in order:
            rows = build(self.con, table)
        return rows

    def select(self, sql: str, *params) -> list[tuple]:
        """Rows of a query, dates as ISO text (so expectations read like the data)."""
        return [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row)
                for row in self.con.execute(sql, list(params)).fetchall()]


@pytest.fixture
def wh():
    """An empty in-memory warehouse for one test."""
    con = connect()
    try:
        yield RuleWarehouse(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def module_wh():
    """An empty in-memory warehouse shared by a module's tests: a module writes one patient per case into it,
    builds the table under test once, and each parametrized test reads its own patient's answer. The rules
    are per patient, so the patients of different cases cannot change each other's answers."""
    con = connect()
    try:
        yield RuleWarehouse(con)
    finally:
        con.close()


def pipeline_and_fast_rules_agree(write, tables: tuple[str, ...], data_dir: Path, run_speval) -> None:
    """The same rows (`write(dataset)`) through the real `speval run` and through the fast harness give every
    table in `tables` identically: the fast rule tests test the pipeline's own rules."""
    import duckdb

    ds = DataSet(data_dir)
    write(ds)
    run = run_speval(ds.write())

    def contents(con) -> dict[str, list[tuple]]:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in tables}

    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        pipeline = contents(con) if run.exit_code == 0 else {"exit_code": run.exit_code, "stderr": run.stderr}
    with connect() as con:
        fast = RuleWarehouse(con)
        write(fast)
        for table in tables:
            fast.build(table)
        assert pipeline == contents(con)
