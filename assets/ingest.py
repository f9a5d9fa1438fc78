"""Ingest: choose the deliveries for the reporting quarter, then load every file of them into `raw`."""
from __future__ import annotations

import hashlib

import dagster as dg
import polars as pl

from pipelines.resources import EvaluationSettings, Warehouse
from speval.contract import ALL_SPECS, HES_FILES, FileSpec
from speval.deliveries import files_not_read, select_deliveries, unreadable_returns
from speval.identifiers import IdentifierError
from speval.ingest import (FileRefused, empty_raw_frame, load_raw, read_csv_file, read_delivered,
                           refuse_changed_files, refuse_vanished_files, sha256_of)
from speval.outputs import clear_run_folder
from speval.quarters import quarter_end, quarter_start
from speval.warehouse import one, replace_table

PARAMETERS_KEY = dg.AssetKey(["analysis", "parameters"])


@dg.asset(key=PARAMETERS_KEY, group_name="ingest", kinds={"duckdb"})
def run_parameters(settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    """The run's parameters and the deliveries it uses (latest HES and outcome-tool delivery with key <= the
    reporting quarter; every provider-returns folder with key <= it), as one row every analysis reads.
    First checks that the output folder can be written (before any work), then removes the previous run's
    outputs and any staging folder a killed run left (ADR 0013)."""
    from speval.outputs import check_output_folder

    settings.check()
    check_output_folder(settings.run_folder())
    clear_run_folder(settings.run_folder())
    used = select_deliveries(settings.data_path(), settings.quarter)
    row = pl.DataFrame(
        {
            "quarter": [settings.quarter],
            "quarter_start": [quarter_start(settings.quarter)],
            "quarter_end": [quarter_end(settings.quarter)],
            "programme": [settings.programme],
            "coverage_start": [used.hes_manifest.coverage_start],
            "cutoff": [used.hes_manifest.cutoff],
            "extracted_on": [used.hes_manifest.extracted_on],
            "followup_min_days": [settings.followup_min_days],
            "followup_max_days": [settings.followup_max_days],
            "hes_delivery": [used.hes],
            "previous_hes_delivery": pl.Series([used.previous_hes], dtype=pl.String),
            "outcome_tool_delivery": [used.outcome_tool],
            "provider_return_quarters": [",".join(used.provider_returns)],
        }
    )
    with warehouse.connect() as con:
        replace_table(con, "analysis.parameters", row)
    return dg.MaterializeResult(
        metadata={
            "quarter": settings.quarter,
            "programme": settings.programme,
            "hes_delivery": used.hes,
            "outcome_tool_delivery": used.outcome_tool,
            "provider_returns": ", ".join(used.provider_returns) or "none",
            "hes_cutoff": used.hes_manifest.cutoff.isoformat(),
        }
    )


DELIVERY_FILES_KEY = dg.AssetKey(["audit", "delivery_files"])


@dg.asset(key=DELIVERY_FILES_KEY, deps=[PARAMETERS_KEY], group_name="ingest", kinds={"duckdb"})
def delivery_files(context, settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    """The deliveries in use as found on disk, before any data file is read: the HES manifest (hashed, and
    refused if it changed since this warehouse first read it), every file or folder that is not read and why,
    and a refusal when a file ingested before has vanished or a provider return is in a format that cannot be
    read. Nothing delivered is ignored without notice."""
    data_dir = settings.data_path()
    used = select_deliveries(data_dir, settings.quarter)
    not_read = files_not_read(data_dir, used)
    refusals = unreadable_returns(not_read)
    if refusals:
        raise FileRefused("\n".join(refusals))
    manifest = data_dir / "hes" / used.hes / "manifest.json"
    manifest_file = manifest.relative_to(data_dir).as_posix()
    rows = [("hes", used.hes, manifest_file, sha256_of(manifest), "read", "delivery manifest: coverage and cut-off")]
    rows += [(n.source, n.file.split("/")[1], n.file, None, "not read", n.reason) for n in not_read]
    folders = [data_dir / "hes" / used.hes, data_dir / "outcome_tool" / used.outcome_tool,
               *(data_dir / "provider_returns" / key for key in used.provider_returns)]
    with warehouse.connect() as con:
        refuse_vanished_files(con, data_dir, folders)
        refuse_changed_files(con, data_dir, [(manifest_file, rows[0][3])])
        frame = pl.DataFrame(rows, schema=["source", "delivery", "file", "sha256", "status", "note"], orient="row")
        replace_table(con, "audit.delivery_files", frame)
    for n in not_read:
        context.log.warning(f"not read: {n.file} ({n.reason})")
    return dg.MaterializeResult(
        metadata={"manifest_sha256": rows[0][3], "files_not_read": len(not_read),
                  "not_read": dg.MetadataValue.md("\n".join(f"- `{n.file}`: {n.reason}" for n in not_read) or "none")}
    )


def raw_asset(spec: FileSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["raw", spec.name]),
        deps=[DELIVERY_FILES_KEY],
        group_name="ingest",
        kinds={"duckdb"},
        description=f"{spec.filename} ({spec.source}) as delivered, every cell as text, with provenance "
        "(delivery, file, sha256, row number). Refused whole if it lacks a required column or carries "
        "direct identifiers.",
    )
    def _raw(settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            hes, ot, providers = one(
                con, "SELECT hes_delivery, outcome_tool_delivery, provider_return_quarters FROM analysis.parameters"
            )
            providers = tuple(p for p in providers.split(",") if p)
            files = read_delivered(spec, settings.data_path(), hes, ot, providers)
            refuse_changed_files(con, settings.data_path(), [(f.file, f.sha256) for f in files])
            load_raw(con, spec, files)
        fingerprint = hashlib.sha256("".join(f.file + f.sha256 for f in files).encode()).hexdigest()
        return dg.MaterializeResult(
            data_version=dg.DataVersion(fingerprint[:16]),
            metadata={
                "dagster/row_count": sum(f.rows_read for f in files),
                "files": dg.MetadataValue.md(
                    "\n".join(f"- `{f.file}` sha256 `{f.sha256[:12]}…` {f.rows_read} rows" for f in files)
                    or "none"
                ),
            },
        )

    return _raw


raw_assets = [raw_asset(spec) for spec in ALL_SPECS]


def previous_raw_asset(spec: FileSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["raw", f"previous_{spec.name}"]),
        deps=[PARAMETERS_KEY],
        group_name="ingest",
        kinds={"duckdb"},
        description=f"{spec.filename} of the HES delivery before the one in use, only to show which records "
        "the delivery in use revised, withdrew or added. Not used by the analysis.",
    )
    def _previous(context, settings: EvaluationSettings,
                  warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            previous = one(con, "SELECT previous_hes_delivery FROM analysis.parameters")[0]
            frame, note = empty_raw_frame(spec), "no earlier delivery"
            if previous:
                path = settings.data_path() / "hes" / previous / spec.filename
                try:
                    frame = read_csv_file(path, settings.data_path(), spec, previous).frame
                    note = f"compared with delivery {previous}"
                except (FileRefused, IdentifierError) as refused:  # the comparison is skipped, not the report
                    context.log.warning(str(refused))
                    note = f"not compared: {refused}"
            replace_table(con, f"raw.previous_{spec.name}", frame)
        return dg.MaterializeResult(metadata={"dagster/row_count": frame.height, "comparison": note})

    return _previous


previous_raw_assets = [previous_raw_asset(spec) for spec in HES_FILES]
