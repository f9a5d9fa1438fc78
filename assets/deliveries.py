"""The deliveries as assets: where the graph starts (docs/decisions/0021-partitions.md).

One observable source asset per source — HES, outcome tool, provider returns — partitioned by delivery quarter.
Observing them ("Observe sources" in the UI) records each delivery folder's sha256 as that partition's data
version, so the catalogue shows what was delivered and when a delivery changed, and the raw tables built from
an earlier state show as stale. Runs read the files themselves, and check each file's sha256 again (ADR 0011).
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import dagster as dg

from assets.partitions import QUARTER_KEYS
from speval.ingest.deliveries import SOURCE_NAMES, delivery_keys
from speval.ingest.files import sha256_of
from speval.run.spec import DEFAULT_DATA_DIR

delivery_partitions = dg.StaticPartitionsDefinition(QUARTER_KEYS)


def delivery_version(folder: Path) -> str:
    """sha256 over the delivery folder's files: each file's path within the folder and the sha256 of its bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest()


def delivery_versions(data_dir: Path, source: str) -> dict[str, str]:
    """Each delivery of `source` under the data folder (`<source>/<QUARTER>`) with its data version."""
    return {key: delivery_version(data_dir / source / key) for key in delivery_keys(data_dir, source)
            if key in QUARTER_KEYS}


def delivery_source(source: str) -> dg.SourceAsset:
    # Observable source assets and versions by partition are "beta" in Dagster 1.13: used as documented, without
    # the warning (which `speval run` would otherwise print on every run).
    def _observe() -> dg.DataVersionsByPartition:
        versions = delivery_versions(Path(DEFAULT_DATA_DIR).resolve(), source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)
            return dg.DataVersionsByPartition({key: dg.DataVersion(version) for key, version in versions.items()})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.observable_source_asset(
            key=dg.AssetKey(["deliveries", source]),
            partitions_def=delivery_partitions,
            group_name="ingest",
            description=f"The {SOURCE_NAMES[source]} folders under the data folder ({source}/<QUARTER>), one "
            "partition per delivery quarter; observing records the sha256 of each delivery's files.",
        )(_observe)


delivery_assets = [delivery_source(source) for source in SOURCE_NAMES]


def delivery_dep(source: str) -> dg.AssetDep:
    """A run reads deliveries of several quarters (the one it uses, the previous HES delivery, provider returns
    to date): every partition of the source is upstream of every evaluation partition."""
    return dg.AssetDep(dg.AssetKey(["deliveries", source]), partition_mapping=dg.AllPartitionMapping())
