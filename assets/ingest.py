"""Ingest: choose the deliveries for the reporting quarter, then load every file of them into `raw`."""
from __future__ import annotations

import hashlib

import dagster as dg
import polars as pl

from assets.deliveries import delivery_dep
from assets.partitions import evaluation_partitions
from assets.resources import EvaluationSettings, WAREHOUSE_POOL, Warehouse
from assets.versions import code_version
from speval.ingest.contract import ALL_SPECS, HES_FILES, FileSpec
from speval.ingest.deliveries import SOURCE_NAMES, files_not_read, unreadable_returns
from speval.ingest.files import (FileRefused, empty_raw_frame, load_raw, read_csv_file, read_delivered,
                                 refuse_changed_files, refuse_vanished_files, sha256_of)
from speval.ingest.identifiers import IdentifierError
from speval.report.outputs import check_output_folder, clear_run_folder
from speval.run.spec import parameters_row
from speval.warehouse import replace_table

PARAMETERS_KEY = dg.AssetKey(["analysis", "parameters"])


@dg.asset(pool=WAREHOUSE_POOL, partitions_def=evaluation_partitions, key=PARAMETERS_KEY, group_name="ingest",
          kinds={"duckdb"}, code_version=code_version("assets.ingest", "speval.run.spec", "speval.report.outputs"))
def run_parameters(settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    """The run's specification as one row every SQL rule reads: quarter, programme, the deliveries it uses
    (planned when the run started) and the analysis parameters. First checks that the output folder can be
    written (before any work), then removes the previous run's outputs and any staging folder a killed run
    left (ADR 0013)."""
    spec = settings.spec
    check_output_folder(spec.run_folder)
    clear_run_folder(spec.run_folder)
    with warehouse.connect() as con:
        replace_table(con, "analysis.parameters", parameters_row(spec))
    used = spec.planned
    return dg.MaterializeResult(
        metadata={
            "quarter": spec.quarter.key,
            "programme": spec.programme.code,
            "hes_delivery": used.hes,
            "outcome_tool_delivery": used.outcome_tool,
            "provider_returns": ", ".join(used.provider_returns) or "none",
            "hes_cutoff": used.hes_manifest.cutoff.isoformat(),
        }
    )


DELIVERY_FILES_KEY = dg.AssetKey(["audit", "delivery_files"])


@dg.asset(pool=WAREHOUSE_POOL, partitions_def=evaluation_partitions, key=DELIVERY_FILES_KEY,
          deps=[PARAMETERS_KEY, *(delivery_dep(source) for source in SOURCE_NAMES)], group_name="ingest",
          kinds={"duckdb"},
          code_version=code_version("assets.ingest", "speval.ingest.deliveries", "speval.ingest.files"))
def delivery_files(context, settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    """The deliveries in use as found on disk, before any data file is read: the HES manifest (hashed, and
    refused if it changed since this warehouse first read it), every file or folder that is not read and why,
    and a refusal when a file ingested before has vanished or a provider return is in a format that cannot be
    read. Nothing delivered is ignored without notice."""
    data_dir, used = settings.spec.data_dir, settings.spec.planned
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


RAW_CODE_VERSION = code_version("assets.ingest", "speval.ingest.files", "speval.ingest.contract",
                                "speval.ingest.identifiers")


def raw_asset(spec: FileSpec) -> dg.AssetsDefinition:
    @dg.asset(
        pool=WAREHOUSE_POOL,
        partitions_def=evaluation_partitions,
        key=dg.AssetKey(["raw", spec.name]),
        deps=[DELIVERY_FILES_KEY, delivery_dep(spec.source)],
        group_name="ingest",
        kinds={"duckdb"},
        code_version=RAW_CODE_VERSION,
        description=f"{spec.filename} ({spec.source}) as delivered, every cell as text, with provenance "
        "(delivery, file, sha256, row number). Refused whole if it lacks a required column or carries "
        "direct identifiers.",
    )
    def _raw(settings: EvaluationSettings, warehouse: Warehouse) -> dg.MaterializeResult:
        data_dir, used = settings.spec.data_dir, settings.spec.planned
        files = read_delivered(spec, data_dir, used)
        with warehouse.connect() as con:
            refuse_changed_files(con, data_dir, [(f.file, f.sha256) for f in files])
            load_raw(con, spec, files)
        fingerprint = hashlib.sha256("".join(f.file + f.sha256 for f in files).encode()).hexdigest()
        return dg.MaterializeResult(
            data_version=dg.DataVersion(fingerprint),
            metadata={
                "dagster/row_count": sum(f.rows_read for f in files),
                "files": dg.MetadataValue.md(
                    "\n".join(f"- `{f.file}` sha256 `{f.sha256}` {f.rows_read} rows" for f in files)
                    or "none"
                ),
            },
        )

    return _raw


raw_assets = [raw_asset(spec) for spec in ALL_SPECS]


def previous_raw_asset(spec: FileSpec) -> dg.AssetsDefinition:
    @dg.asset(
        pool=WAREHOUSE_POOL,
        partitions_def=evaluation_partitions,
        key=dg.AssetKey(["raw", f"previous_{spec.name}"]),
        deps=[PARAMETERS_KEY, delivery_dep("hes")],
        group_name="ingest",
        kinds={"duckdb"},
        code_version=RAW_CODE_VERSION,
        description=f"{spec.filename} of the HES delivery before the one in use, only to show which records "
        "the delivery in use revised, withdrew or added. Not used by the analysis.",
    )
    def _previous(context, settings: EvaluationSettings,
                  warehouse: Warehouse) -> dg.MaterializeResult:
        data_dir, previous = settings.spec.data_dir, settings.spec.planned.previous_hes
        with warehouse.connect() as con:
            frame, note = empty_raw_frame(spec), "no earlier delivery"
            if previous:
                path = data_dir / "hes" / previous / spec.filename
                try:
                    frame = read_csv_file(path, data_dir, spec, previous).frame
                    note = f"compared with delivery {previous}"
                except (FileRefused, IdentifierError) as refused:  # the comparison is skipped, not the report
                    context.log.warning(str(refused))
                    note = f"not compared: {refused}"
            replace_table(con, f"raw.previous_{spec.name}", frame)
        return dg.MaterializeResult(metadata={"dagster/row_count": frame.height, "comparison": note})

    return _previous


previous_raw_assets = [previous_raw_asset(spec) for spec in HES_FILES]
