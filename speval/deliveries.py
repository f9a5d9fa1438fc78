"""Which deliveries a reporting quarter uses (CONTRACT.md §1).

HES and outcome-tool deliveries are cumulative: quarter Q uses the latest delivery with key <= Q.
Provider returns hold one quarter's activity each: Q uses every folder with key <= Q.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from speval.quarters import is_quarter, parse_quarter


class DeliveryError(Exception):
    """A delivery needed for the run is missing or malformed."""


@dataclass(frozen=True)
class HesManifest:
    coverage_start: dt.date
    cutoff: dt.date
    extracted_on: dt.date | None


@dataclass(frozen=True)
class DeliveriesInUse:
    quarter: str
    hes: str
    previous_hes: str | None
    outcome_tool: str
    provider_returns: tuple[str, ...]
    hes_manifest: HesManifest


def delivery_keys(data_dir: Path, source: str) -> list[str]:
    folder = data_dir / source
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if p.is_dir() and is_quarter(p.name)), key=parse_quarter)


def latest_delivery(data_dir: Path, source: str, quarter: str) -> str:
    keys = [k for k in delivery_keys(data_dir, source) if parse_quarter(k) <= parse_quarter(quarter)]
    if not keys:
        raise DeliveryError(f"no {source} delivery with key <= {quarter} under {data_dir / source}")
    return keys[-1]


def previous_delivery(data_dir: Path, source: str, key: str) -> str | None:
    """The delivery before `key` (the latest with a smaller key), for showing what a delivery revised."""
    earlier = [k for k in delivery_keys(data_dir, source) if parse_quarter(k) < parse_quarter(key)]
    return earlier[-1] if earlier else None


def read_hes_manifest(path: Path) -> HesManifest:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        coverage_start = dt.date.fromisoformat(raw["coverage_start"])
        cutoff = dt.date.fromisoformat(raw["cutoff"])
        extracted = raw.get("extracted_on")
        extracted_on = dt.date.fromisoformat(extracted) if extracted else None
    except FileNotFoundError as exc:
        raise DeliveryError(f"{path}: HES delivery has no manifest.json") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise DeliveryError(
            f"{path}: manifest.json must hold ISO dates coverage_start and cutoff ({exc})"
        ) from exc
    if coverage_start > cutoff:
        raise DeliveryError(f"{path}: coverage_start {coverage_start} is after cutoff {cutoff}")
    return HesManifest(coverage_start, cutoff, extracted_on)


def select_deliveries(data_dir: Path, quarter: str) -> DeliveriesInUse:
    parse_quarter(quarter)
    hes = latest_delivery(data_dir, "hes", quarter)
    outcome_tool = latest_delivery(data_dir, "outcome_tool", quarter)
    providers = tuple(
        k for k in delivery_keys(data_dir, "provider_returns") if parse_quarter(k) <= parse_quarter(quarter)
    )
    manifest = read_hes_manifest(data_dir / "hes" / hes / "manifest.json")
    previous = previous_delivery(data_dir, "hes", hes)
    return DeliveriesInUse(quarter, hes, previous, outcome_tool, providers, manifest)
