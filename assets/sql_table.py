"""One Dagster asset per SQL file in `sql/`: the file is the rule, the asset only runs it.

Lineage comes from the SQL itself: every `schema.table` it reads becomes an upstream dependency, so
the graph in the UI is exactly what the SQL does.
"""
from __future__ import annotations

import hashlib
import re

import dagster as dg

from assets.partitions import evaluation_partitions
from assets.resources import WAREHOUSE_POOL, Warehouse
from speval.warehouse import SQL_DIR, sql_text, sql_with_macros

_TABLE_REF = re.compile(r"\b(raw|staged|core|analysis|audit|reference)\.([a-z_]+)\b")
# audit.files and audit.row_outcomes are written by the ingest and validate assets, table by table.
_AUDIT_WRITERS = {"audit.files": "raw", "audit.row_outcomes": "staged"}


def referenced_tables(sql: str) -> list[str]:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return sorted({f"{s}.{t}" for s, t in _TABLE_REF.findall(without_comments)})


def _description(sql: str) -> str:
    lines = [line[2:].strip() for line in sql.splitlines() if line.startswith("--")]
    return " ".join(lines)


def sql_table_asset(name: str, group: str, spec_names: tuple[str, ...] = ()) -> dg.AssetsDefinition:
    """An asset that builds table `name` (e.g. `core.emergency_admissions`) from sql/<schema>/<table>.sql."""
    schema, table = name.split(".")
    sql = sql_with_macros(name)  # the macros it calls read tables too
    deps: set[dg.AssetKey] = set()
    for ref in referenced_tables(sql):
        if ref == name:
            continue
        if ref in _AUDIT_WRITERS:
            deps.update(dg.AssetKey([_AUDIT_WRITERS[ref], s]) for s in spec_names)
        else:
            deps.add(dg.AssetKey(ref.split(".")))

    @dg.asset(
        pool=WAREHOUSE_POOL,
        partitions_def=evaluation_partitions,
        key=dg.AssetKey([schema, table]),
        deps=sorted(deps, key=lambda k: k.to_user_string()),
        group_name=group,
        description=_description(sql_text(name)) or None,
        code_version=hashlib.sha256(sql.encode()).hexdigest()[:12],
        kinds={"duckdb", "sql"},
        metadata={"sql_file": dg.MetadataValue.path(str((SQL_DIR / schema / f"{table}.sql").relative_to(SQL_DIR.parent)))},
    )
    def _build(warehouse: Warehouse) -> dg.MaterializeResult:
        from speval.warehouse import build

        with warehouse.connect() as con:
            rows = build(con, name)
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "dagster/column_schema": dg.TableSchema(
                    columns=[dg.TableColumn(n, t) for n, t in columns]
                ),
            }
        )

    return _build
