"""The DuckDB warehouse: connection settings and running the named SQL files in `sql/`."""
from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from speval.package_data import data_folder

SQL_DIR = data_folder("sql")
SCHEMAS = ("raw", "staged", "audit", "reference", "core", "analysis")

# Offline and explicit: no extension downloads, and a missing table never resolves to a Python variable.
CONNECTION_CONFIG = {
    "python_enable_replacements": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "threads": 2,
}


def connect(database: str | Path = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(database), config=CONNECTION_CONFIG)
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return con


def sql_text(name: str) -> str:
    """The SQL of a derived table, e.g. `core.emergency_admissions` → sql/core/emergency_admissions.sql."""
    schema, table = name.split(".")
    return (SQL_DIR / schema / f"{table}.sql").read_text(encoding="utf-8")


def macros_used(sql: str) -> list[str]:
    """The shared SQL definitions (`sql/macros/<name>.sql`, each one `CREATE OR REPLACE MACRO <name>`) that
    `sql` calls, by name."""
    return sorted(path.stem for path in (SQL_DIR / "macros").glob("*.sql") if f"{path.stem}(" in sql)


def macro_text(macro: str) -> str:
    return (SQL_DIR / "macros" / f"{macro}.sql").read_text(encoding="utf-8")


def sql_with_macros(name: str) -> str:
    """The SQL of `name` followed by the macros it calls: everything the table is built from, for lineage
    and code versions."""
    sql = sql_text(name)
    return "\n".join([sql, *(macro_text(m) for m in macros_used(sql))])


def build(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Create or replace the table `name` from its SQL file (defining the macros it calls first); return its
    row count."""
    sql = sql_text(name)
    for macro in macros_used(sql):
        con.execute(macro_text(macro))
    con.execute(f"CREATE OR REPLACE TABLE {name} AS\n{sql}")
    return count(con, name)


def one(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> tuple:
    """The single row of `query`, fully fetched (DuckDB 2 keeps a result open after fetchone(), which
    blocks the next `register` on the connection)."""
    rows = con.execute(query, params or []).fetchall()
    if len(rows) != 1:
        raise ValueError(f"expected one row, got {len(rows)}: {query}")
    return rows[0]


def count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return one(con, f"SELECT count(*) FROM {name}")[0]


def write_reference_tables(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The vocabulary's lists the SQL rules join to (cohorts, measures, well-being measures, attrition steps,
    groups), written from speval/run/vocabulary.py; table name -> rows."""
    from speval.run.vocabulary import reference_tables

    written = {}
    for name, frame in reference_tables().items():
        replace_table(con, name, frame)
        written[name] = frame.height
    return written


def replace_table(con: duckdb.DuckDBPyConnection, name: str, data: pl.DataFrame) -> None:
    view = "_incoming_" + name.replace(".", "_")
    con.register(view, data.to_arrow())
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)
