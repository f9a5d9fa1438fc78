"""Report: the contract tables as CSV, the disclosure-controlled evaluation report (HTML + PDF), and the
run manifest an auditor starts from.

Every output is written to the run's staging folder (`<out>/<PROGRAMME>/.<QUARTER>.partial-<run id>`);
the last asset writes the manifest there and then publishes the folder as `<out>/<PROGRAMME>/<QUARTER>/`
in one rename, so a run that fails or is killed leaves no report (ADR 0013). The staged report must first pass
the release check (`passes_the_release_check`, ADR 0022): a blocking check, so a report that fails it is never
published."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import dagster as dg

from assets.partitions import evaluation_partitions
from assets.resources import EvaluationSettings, WAREHOUSE_POOL, Warehouse
from assets.sql_table import referenced_tables
from assets.versions import code_version as source_version
from speval.package_data import CHECKOUT, data_folder
from speval.report.outputs import (CONTRACT_TABLES, EXTRA_TABLES, MH_TABLES, QUALITY_TABLES, REPORT_ONLY_TABLES,
                                   code_version, export_tables, missing_outputs, publish_run_folder,
                                   read_contract_table, write_manifest)
from speval.report.release import RULES, check_json, check_release
from speval.ingest.files import sha256_of
from speval.run.plan import deviations, load_plan
from speval.run.spec import REPORT_HTML, REPORT_PDF, RUN_MANIFEST, RunSpec, parameters_row
from speval.warehouse import one

REPORT_TABLES = {**CONTRACT_TABLES, **QUALITY_TABLES}
# The primary matching setting is picked out of analysis.matching_settings (typed columns).
TABLE_SOURCES = sorted({table for table, _, _ in [*REPORT_TABLES.values(), *MH_TABLES.values()]}
                       | {"analysis.matching_settings"})
# What the tables beyond the contract read besides (EXTRA_TABLES: every matching setting's estimates, balance and
# unmatched counts, the value-for-money inputs, the paired well-being change), so they are written after all of it.
EXTRA_SOURCES = sorted({t for query in EXTRA_TABLES.values() for t in referenced_tables(query)} - set(TABLE_SOURCES))
# What the report reads beyond them (REPORT_ONLY_TABLES: every matching setting, and the economics inputs and
# reference rows of the value-for-money section), so the report is built after all of it.
REPORT_ONLY_SOURCES = sorted({t for query in REPORT_ONLY_TABLES.values() for t in referenced_tables(query)}
                             - set(TABLE_SOURCES))
TABLES_CODE_VERSION = source_version("assets.report", "speval.report.outputs")
MANIFEST_CODE_VERSION = source_version("assets.report", "speval.report.outputs", "speval.report.release")
REPORT_CODE_VERSION = source_version(
    "assets.report", "speval.report.outputs", "speval.report.render", "speval.report.templating",
    "speval.report.disclosure", "speval.report.format", "speval.report.charts", "speval.report.flow",
    *(f"speval.report.sections.{p.stem}" for p in sorted(Path(str(files("speval.report.sections"))).glob("*.py"))),
    "speval.economics.sensitivity",
    files=tuple(p for p in data_folder("templates").rglob("*") if p.is_file()))


@dg.asset(
    pool=WAREHOUSE_POOL,
    partitions_def=evaluation_partitions,
    key=dg.AssetKey(["report", "analysis_tables"]),
    deps=[dg.AssetKey(t.split(".")) for t in [*TABLE_SOURCES, *EXTRA_SOURCES]],
    group_name="report",
    kinds={"csv"},
    code_version=TABLES_CODE_VERSION,
)
def analysis_tables(context, settings: EvaluationSettings,
                    warehouse: Warehouse) -> dg.MaterializeResult:
    """The analysis tables of docs/contract/outputs.md, unsuppressed and unrounded (restricted), in `<run>/tables/`:
    the contract's, and those beyond it that every other figure of the report is traced to (the matched comparison
    under every setting, its balance and unmatched counts; effect estimates; value inputs; paired well-being change);
    the HES data-quality summary in `<run>/quality/`."""
    staging = settings.staging_folder(context.run)
    with warehouse.connect() as con:
        written = export_tables(con, staging)
        previews = {f"preview_{name}": dg.MetadataValue.md(markdown_table(read_contract_table(con, name)))
                    for name in PREVIEWED_TABLES}
    return dg.MaterializeResult(metadata={**_published_paths(written, staging, settings), **previews})


# Small tables shown in the UI (restricted, like tables/: the UI is the evaluation team's tool).
PREVIEWED_TABLES = ("attrition", "hospital_use", "matched_effects")


def markdown_table(frame) -> str:
    """A table as Markdown for the UI's metadata view: numbers to 4 significant figures, blanks blank."""
    def cell(value) -> str:
        if value is None:
            return ""
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines)


def _published_paths(written: dict, staging, settings: EvaluationSettings) -> dict:
    """Metadata paths where the files will be once the run is published."""
    return {name: dg.MetadataValue.path(str(settings.spec.run_folder / path.relative_to(staging)))
            for name, path in written.items()}


@dg.asset_check(asset=analysis_tables, name="warehouse_holds_this_run", blocking=True)
def warehouse_holds_this_run(settings: EvaluationSettings, warehouse: Warehouse) -> dg.AssetCheckResult:
    """The warehouse's tables were built for this run: its stored run parameters (quarter, programme, the
    deliveries, the follow-up window) equal this run's. Blocks the report otherwise, so a run that
    materialises only the report assets can never put its title over another run's tables."""
    expected = parameters_row(settings.spec)
    with warehouse.connect() as con:
        stored = con.sql("SELECT * FROM analysis.parameters").pl() if one(
            con, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'analysis' "
                 "AND table_name = 'parameters'")[0] else None
    if stored is None or stored.height != 1:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "the warehouse holds no run parameters"})
    differing = {c: {"this run": str(expected[c][0]), "warehouse": str(stored[c][0]) if c in stored.columns else None}
                 for c in expected.columns if c not in stored.columns or expected[c].to_list() != stored[c].to_list()}
    return dg.AssetCheckResult(passed=not differing, metadata={
        "reason": "the warehouse holds another run's tables: materialise the whole job for this run"
        if differing else "the warehouse holds this run's tables",
        "differing": dg.MetadataValue.json(differing)})


def report_meta(con, spec: RunSpec) -> dict:
    """What the report and the manifest say about the run: all from the run's planned specification and the
    analysis plan (its hash, and each run parameter that differs from it), except the inputs actually read
    (audit tables)."""
    used, parameters, plan = spec.planned, spec.parameters, load_plan()
    # Every file the run read: the data files (audit.files, one row per workbook) and the HES manifest.
    inputs = con.sql(
        "SELECT source, delivery, split_part(file, '#', 1) AS file, any_value(sha256) AS sha256, "
        "sum(rows_read)::BIGINT AS rows_read FROM audit.files GROUP BY ALL "
        "UNION ALL SELECT source, delivery, file, sha256, NULL FROM audit.delivery_files WHERE status = 'read' "
        "ORDER BY source, file"
    ).pl()
    not_read = con.sql("SELECT source, file, note AS reason FROM audit.delivery_files WHERE status = 'not read' "
                       "ORDER BY source, file").pl()
    return {
        "programme": spec.programme.code,
        "programme_name": spec.programme.label,
        "quarter": spec.quarter.key,
        "quarter_end": spec.quarter.last_day.isoformat(),
        "deliveries": {
            "hes": {
                "key": used.hes,
                "coverage_start": used.hes_manifest.coverage_start.isoformat(),
                "cutoff": used.hes_manifest.cutoff.isoformat(),
                "extracted_on": used.hes_manifest.extracted_on.isoformat() if used.hes_manifest.extracted_on else None,
            },
            "outcome_tool": {"key": used.outcome_tool},
            "provider_returns": list(used.provider_returns),
            "previous_hes": used.previous_hes,
        },
        "parameters": {
            "quarter": spec.quarter.key,
            "programme": spec.programme.code,
            "followup_min_days": parameters.followup.min_days,
            "followup_max_days": parameters.followup.max_days,
            "matching_caliper_sd": parameters.matching.caliper,
            "matching_ratio": parameters.matching.ratio,
            "matching_with_replacement": parameters.matching.with_replacement,
            "bootstrap_replicates": parameters.bootstrap_replicates,
            "seed": parameters.seed,
        },
        "analysis_plan": plan.manifest_entry(),
        "deviations_from_plan": [d.as_dict() for d in deviations(plan, parameters)],
        "code_version": code_version(CHECKOUT)["git_commit"],
        "input_files": inputs.to_dicts(),
        "files_not_read": not_read.to_dicts(),
    }


@dg.asset(
    pool=WAREHOUSE_POOL,
    partitions_def=evaluation_partitions,
    key=dg.AssetKey(["report", "evaluation_report"]),
    deps=[analysis_tables.key, *(dg.AssetKey(t.split(".")) for t in REPORT_ONLY_SOURCES)],
    group_name="report",
    kinds={"pdf", "html"},
    code_version=REPORT_CODE_VERSION,
)
def evaluation_report(context, settings: EvaluationSettings,
                      warehouse: Warehouse) -> dg.MaterializeResult:
    """The publishable evaluation report, disclosure control applied, as HTML and PDF."""
    from speval.report import render_report

    staging = settings.staging_folder(context.run)
    with warehouse.connect() as con:
        tables = {name: read_contract_table(con, name) for name in REPORT_TABLES}
        tables |= {name: con.sql(query).pl() for name, query in REPORT_ONLY_TABLES.items()}
        meta = report_meta(con, settings.spec)
    paths = render_report(tables, meta, staging)
    return dg.MaterializeResult(metadata={**_published_paths(paths, staging, settings),
                                          **_run_identity(settings),
                                          **{f"{kind}_sha256": sha256_of(path) for kind, path in paths.items()}})


def _run_identity(settings: EvaluationSettings) -> dict:
    """What an auditor matches a materialisation with: quarter, programme and the code's git commit."""
    return {"quarter": settings.spec.quarter.key, "programme": settings.spec.programme.code,
            "git_commit": code_version(CHECKOUT)["git_commit"] or "unknown"}


#: How many findings the release check's metadata lists in words (the rest are counted by rule).
FINDINGS_LISTED = 20


@dg.asset_check(asset=evaluation_report, name="passes_the_release_check", blocking=True)
def passes_the_release_check(context, settings: EvaluationSettings) -> dg.AssetCheckResult:
    """The staged report passes the release check (speval/report/release.py, ADR 0022): every count of people it
    prints is 0, * or rounded to 5 and every percentage of people is of 8 people or more, as printed (read back from
    the HTML and from each page of the PDF); and no valid NHS number or UK postcode is in the report or the staged
    tables. Blocks the manifest otherwise, so nothing of the run is published."""
    result = check_release(settings.staging_folder(context.run))
    listed = [f.line() for f in result.findings[:FINDINGS_LISTED]]
    return dg.AssetCheckResult(passed=result.passed, description=result.summary(), metadata={
        "marks_checked": result.marks_checked,
        "pdf_marks_checked": result.pdf_marks_checked,
        "files_checked": len(result.files_checked),
        "findings": len(result.findings),
        "findings_by_rule": dg.MetadataValue.json({RULES[k]: n for k, n in result.by_rule().items()}),
        "first_findings": dg.MetadataValue.md("\n".join(f"- {line}" for line in listed) or "none"),
    })


@dg.asset(
    pool=WAREHOUSE_POOL,
    partitions_def=evaluation_partitions,
    key=dg.AssetKey(["report", "run_manifest"]),
    deps=[evaluation_report.key, dg.AssetKey(["reference", "files"]),
          *(dg.AssetKey(["raw", f"previous_{n}"]) for n in ("persons", "apc", "ae", "op"))],
    group_name="report",
    kinds={"json"},
    code_version=MANIFEST_CODE_VERSION,
)
def run_manifest(context, settings: EvaluationSettings,
                 warehouse: Warehouse) -> dg.MaterializeResult:
    """run_manifest.json: every input file with its sha256, deliveries, parameters, the analysis plan's
    sha256 and the run's deviations from it, code and package versions, and the sha256 of every output; who each
    output is for (`sensitivity`) and what the release check found (`release_check`). Written last, into the
    staging folder, which is then published as the run folder: the run's outputs appear all at once, and only when
    the run succeeded and its outputs passed the release check (checked again here, with the manifest itself, so
    that materialising this asset alone cannot publish a report that fails it)."""
    folder = settings.staging_folder(context.run)
    missing = missing_outputs(folder)
    if missing:  # e.g. only part of the job was materialized: publish nothing rather than part of a run
        raise RuntimeError(f"not published: this run did not write {', '.join(missing)} (run the whole job)")
    release = check_release(folder)
    if not release.passed:
        raise RuntimeError(f"not published: {release.summary()}")
    with warehouse.connect() as con:
        meta = report_meta(con, settings.spec)
        compared = con.sql(
            " UNION ".join(f"SELECT DISTINCT file, sha256 FROM raw.previous_{name}" for name in ("persons", "apc", "ae", "op"))
            + " ORDER BY file"
        ).pl().to_dicts()
        reference = con.sql("SELECT * FROM reference.files ORDER BY file").pl().to_dicts()
    outputs = [p for p in folder.rglob("*") if p.is_file() and p.name != "run_manifest.json"]
    manifest = write_manifest(
        folder / "run_manifest.json",
        parameters=meta["parameters"] | {"data_dir": settings.data_dir},
        deliveries=meta["deliveries"],
        analysis_plan=meta["analysis_plan"],
        deviations_from_plan=meta["deviations_from_plan"],
        inputs=meta["input_files"],
        code=code_version(CHECKOUT),
        outputs=outputs,
        compared_inputs=compared,
        not_read=meta["files_not_read"],
        reference_data=reference,
        release_check=release.as_record(),
    )
    in_manifest = check_json(folder / RUN_MANIFEST, RUN_MANIFEST)
    if in_manifest:
        raise RuntimeError(f"not published: {in_manifest[0].line()}")
    publish_run_folder(folder, settings.spec.run_folder)
    outputs = {o["file"]: o["sha256"] for o in manifest["outputs"]}
    published = settings.spec.run_folder
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(published / "run_manifest.json")),
        "report_pdf": dg.MetadataValue.url(published.joinpath(REPORT_PDF).resolve().as_uri()),
        "report_html": dg.MetadataValue.url(published.joinpath(REPORT_HTML).resolve().as_uri()),
        **_run_identity(settings),
        "manifest_sha256": sha256_of(published / "run_manifest.json"),
        "pdf_sha256": outputs.get(REPORT_PDF), "html_sha256": outputs.get(REPORT_HTML),
        "outputs": len(manifest["outputs"]), "inputs": len(manifest["inputs"])})


report_assets = [analysis_tables, evaluation_report, run_manifest]
report_checks = [warehouse_holds_this_run, passes_the_release_check]
