"""Validate: contract rules turn each raw file type into staged (accepted) rows, with every other row
quarantined or counted as a duplicate. A blocking check proves each file reconciles; another stops the run
when a file has too large a share of its rows quarantined (ADR 0013). The checks run in their table's own step."""
from __future__ import annotations

import dagster as dg

from assets.sql_table import sql_table_asset
from assets.partitions import evaluation_partitions
from assets.resources import EvaluationSettings, WAREHOUSE_POOL, Warehouse
from assets.versions import code_version
from speval.ingest.contract import ALL_SPECS, HES_FILES, FileSpec
from speval.validate.rules import validate_file_type
from speval.run.vocabulary import EXPECTATIONS_SAMPLE_ROWS, QUARANTINE_WARNING_SHARE
from speval.warehouse import one

SPEC_NAMES = tuple(s.name for s in ALL_SPECS)


def staged_asset(spec: FileSpec) -> dg.AssetsDefinition:
    """The staged table of one file type, with its four checks run in the same step (`check_specs`): each is
    a query on the tables the step has just written, so a step apiece would only add Dagster's own overhead."""
    key = dg.AssetKey(["staged", spec.name])
    deps = [dg.AssetKey(["raw", spec.name])]
    if spec.parent:
        deps.append(dg.AssetKey(["staged", spec.parent[1]]))

    @dg.asset(
        pool=WAREHOUSE_POOL,
        partitions_def=evaluation_partitions,
        key=key,
        deps=deps,
        group_name="validate",
        kinds={"duckdb"},
        code_version=code_version("assets.validate", "speval.validate.rules", "speval.ingest.contract"),
        description=f"Typed, contract-valid rows of {spec.filename}: exact duplicates collapsed, rows breaking "
        "a rule, sharing a key with a different row, or lacking a valid parent quarantined.",
        check_specs=[
            dg.AssetCheckSpec("reconciles", asset=key, blocking=True, description=_reconciles.__doc__),
            dg.AssetCheckSpec("meets_expectations", asset=key, blocking=True,
                              description=_meets_expectations.__doc__),
            dg.AssetCheckSpec("quarantine_share_below_5pct", asset=key, description=_quarantine_share.__doc__),
            dg.AssetCheckSpec("quarantine_share_within_limit", asset=key, blocking=True,
                              description=_quarantine_limit.__doc__),
        ],
    )
    def _staged(settings: EvaluationSettings, warehouse: Warehouse):
        with warehouse.connect() as con:
            counts = validate_file_type(con, spec)
            yield dg.MaterializeResult(
                metadata={
                    "dagster/row_count": counts["accepted"],
                    "rows_quarantined": counts["quarantined"],
                    "rows_duplicate": counts["duplicate"],
                }
            )
            yield _reconciles(con, spec)
            yield _meets_expectations(con, spec)
            yield _quarantine_share(con, spec)
            yield _quarantine_limit(con, spec, settings)

    return _staged


def _reconciles(con, spec: FileSpec) -> dg.AssetCheckResult:
    """Every delivered row is accounted for: read = accepted + quarantined + duplicates, per file."""
    mismatches = con.execute(
        f"""
        SELECT r.file, r.n AS rows_read, coalesce(o.n, 0) AS rows_classified
        FROM (SELECT file, count(*) AS n FROM raw.{spec.name} GROUP BY file) r
        LEFT JOIN (SELECT file, count(*) AS n FROM audit.row_outcomes WHERE spec = ? GROUP BY file) o
        USING (file) WHERE r.n <> coalesce(o.n, 0)
        """,
        [spec.name],
    ).fetchall()
    unclassified = one(
        con,
        "SELECT count(*) FROM audit.row_outcomes WHERE spec = ? AND (outcome IS NULL OR outcome NOT IN "
        "('accepted', 'quarantined', 'duplicate') OR ((outcome = 'quarantined') <> (reason IS NOT NULL)))",
        [spec.name],
    )[0]
    return dg.AssetCheckResult(
        check_name="reconciles",
        passed=not mismatches and unclassified == 0,
        metadata={
            "files_not_reconciling": dg.MetadataValue.json([list(m) for m in mismatches]),
            "rows_without_valid_outcome": unclassified,
        },
    )


def _meets_expectations(con, spec: FileSpec) -> dg.AssetCheckResult:
    """The accepted rows meet this file type's Great Expectations suite (speval/validate/expectations.py): all of
    them up to EXPECTATIONS_SAMPLE_ROWS, beyond that the same number chosen by a hash of file and row number (the
    same rows every run). The SQL rules have already judged every row; this second engine, in pandas, would
    otherwise cost memory and time in proportion to a national extract (ADR 0004)."""
    from speval.validate.expectations import Coverage, validate

    start, cutoff = one(con, "SELECT coverage_start, cutoff FROM analysis.parameters")
    rows = one(con, f"SELECT count(*) FROM staged.{spec.name}")[0]
    sample = f"ORDER BY hash(file, row_number), file, row_number LIMIT {EXPECTATIONS_SAMPLE_ROWS}" \
        if rows > EXPECTATIONS_SAMPLE_ROWS else ""
    frame = con.sql(f"SELECT * EXCLUDE (delivery, file, row_number) FROM staged.{spec.name} {sample}").df()
    failed = validate(spec.name, frame, Coverage(start, cutoff))
    return dg.AssetCheckResult(
        check_name="meets_expectations",
        passed=not failed,
        metadata={"rows_checked": len(frame), "rows_accepted": rows,
                  "failed_expectations": dg.MetadataValue.json(failed)},
    )


def _quarantine_share(con, spec: FileSpec) -> dg.AssetCheckResult:
    """Warns (does not stop the run) when a file has more than 5% of its rows quarantined (total rows of
    workbooks aside: they are expected): the supplier should be asked why before relying on it."""
    per_file = con.execute(
        "SELECT file, count(*) FILTER (WHERE outcome = 'quarantined') / count(*) AS share "
        "FROM audit.row_outcomes WHERE spec = ? AND coalesce(reason, '') <> 'total row' "
        "GROUP BY file ORDER BY file",
        [spec.name],
    ).fetchall()
    shares = [(f, v) for f, v in per_file if v > QUARANTINE_WARNING_SHARE]
    return dg.AssetCheckResult(
        check_name="quarantine_share_below_5pct",
        passed=not shares, severity=dg.AssetCheckSeverity.WARN,
        metadata={"files_over_5pct": dg.MetadataValue.json({f: round(100 * v, 1) for f, v in shares}),
                  # a number, so the UI plots it over runs: the largest share of any file's rows quarantined
                  "max_quarantined_pct": dg.MetadataValue.float(round(100 * max((v for _, v in per_file),
                                                                               default=0.0), 3))},
    )


def _quarantine_limit(con, spec: FileSpec, settings: EvaluationSettings) -> dg.AssetCheckResult:
    """Stops the run when a file of at least `quarantine_share_min_rows` rows (default 20; total rows of
    workbooks aside) has more than `max_quarantined_share` (default 0.5) of them quarantined: a report
    built on the remainder would mislead. Smaller files (a short workbook sheet, where one bad row is a
    large share) are left to the 5% warning."""
    parameters = settings.spec.parameters
    limit, min_rows = parameters.max_quarantined_share, parameters.quarantine_share_min_rows
    over = con.execute(
        "SELECT file, count(*) FILTER (WHERE outcome = 'quarantined') AS quarantined, count(*) AS n "
        "FROM audit.row_outcomes WHERE spec = ? AND coalesce(reason, '') <> 'total row' "
        "GROUP BY file HAVING n >= ? AND quarantined > ? * n ORDER BY file",
        [spec.name, min_rows, limit],
    ).fetchall()
    files = "; ".join(f"{file} {100 * q / n:.1f}% ({q} of {n} rows)" for file, q, n in over)
    return dg.AssetCheckResult(
        check_name="quarantine_share_within_limit",
        passed=not over,
        description=(f"more than {100 * limit:g}% of rows quarantined (max_quarantined_share, files of "
                     f"{min_rows}+ rows): {files}") if over else None,
        metadata={
            "files_over_limit": dg.MetadataValue.json({f: round(100 * q / n, 1) for f, q, n in over}),
            "max_quarantined_share": limit,
            "quarantine_share_min_rows": min_rows,
        },
    )


staged_assets = [staged_asset(spec) for spec in ALL_SPECS]
HES_NAMES = tuple(s.name for s in HES_FILES)
audit_assets = [
    sql_table_asset("audit.reconciliation", "validate", SPEC_NAMES),
    sql_table_asset("audit.quarantine", "validate", SPEC_NAMES),
    # HES data-quality summary of the delivery in use (report appendix).
    sql_table_asset("audit.hes_delivery_changes", "validate"),
    sql_table_asset("audit.hes_missingness", "validate"),
    sql_table_asset("audit.hes_file_quality", "validate", HES_NAMES),
]
