"""Which deliveries a reporting quarter uses, and whether a run for it is possible at all
(docs/contract/inputs.md, docs/decisions/0015-which-runs-are-possible.md).

HES and outcome-tool deliveries are cumulative: quarter Q uses the delivery whose key is Q or, when Q's
own has not arrived, the latest earlier one whose cut-off lies inside the four quarters ending Q (an
outcome-tool export's cut-off is the last day of its key quarter). Provider returns hold one quarter's
activity each: Q uses every folder with key <= Q.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from speval.ingest.contract import HES_FILES, OUTCOME_TOOL_FILES
from speval.ingest.identifiers import safe_name
from speval.run.quarters import Quarter, is_quarter

EXPECTED_FILES = {
    "hes": {"manifest.json", *(s.filename for s in HES_FILES)},
    "outcome_tool": {s.filename for s in OUTCOME_TOOL_FILES},
}
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
OTHER_WORKBOOK_SUFFIXES = (".xls", ".xlsb", ".ods")
SOURCE_NAMES = {"hes": "HES delivery", "outcome_tool": "outcome-tool export", "provider_returns": "provider returns"}


class DeliveryError(Exception):
    """A delivery needed for the run is missing, malformed, or too old to cover the quarter."""


@dataclass(frozen=True)
class HesManifest:
    coverage_start: dt.date
    cutoff: dt.date
    extracted_on: dt.date | None


@dataclass(frozen=True)
class DeliveriesInUse:
    hes: str
    previous_hes: str | None
    outcome_tool: str
    provider_returns: tuple[str, ...]
    hes_manifest: HesManifest


def delivery_keys(data_dir: Path, source: str) -> list[str]:
    folder = data_dir / source
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if p.is_dir() and is_quarter(p.name)), key=Quarter.parse)


def covering_delivery(data_dir: Path, source: str, quarter: Quarter) -> str:
    """The delivery of `source` quarter Q uses: Q's own, else the latest earlier one whose cut-off lies inside
    the four quarters ending Q. Refused (DeliveryError, one line) when there is none."""
    keys = [k for k in delivery_keys(data_dir, source) if Quarter.parse(k) <= quarter]
    name = SOURCE_NAMES[source]
    if not keys:
        later = delivery_keys(data_dir, source)
        raise DeliveryError(f"no {name} covers {quarter}: "
                            + (f"the earliest is {later[0]}" if later else f"there is none under {data_dir / source}"))
    latest = keys[-1]
    if latest == quarter.key:  # the quarter's own delivery, whatever its cut-off
        return latest
    cutoff = delivery_cutoff(data_dir, source, latest)
    if not quarter.shift(-3).first_day <= cutoff <= quarter.last_day:
        raise DeliveryError(f"no {name} covers {quarter}: the latest is {latest}, cut-off {cutoff.isoformat()}")
    return latest


def delivery_cutoff(data_dir: Path, source: str, key: str) -> dt.date:
    """A HES delivery's cut-off is in its manifest; an outcome-tool export's is the last day of its quarter."""
    if source == "hes":
        return read_hes_manifest(data_dir / "hes" / key / "manifest.json").cutoff
    return Quarter.parse(key).last_day


def previous_delivery(data_dir: Path, source: str, key: str) -> str | None:
    """The delivery before `key` (the latest with a smaller key), for showing what a delivery revised."""
    earlier = [k for k in delivery_keys(data_dir, source) if Quarter.parse(k) < Quarter.parse(key)]
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


def select_deliveries(data_dir: Path, quarter: Quarter) -> DeliveriesInUse:
    """The deliveries quarter Q uses, or DeliveryError naming what is missing."""
    hes = covering_delivery(data_dir, "hes", quarter)
    outcome_tool = covering_delivery(data_dir, "outcome_tool", quarter)
    providers = tuple(k for k in delivery_keys(data_dir, "provider_returns") if Quarter.parse(k) <= quarter)
    manifest = read_hes_manifest(data_dir / "hes" / hes / "manifest.json")
    return DeliveriesInUse(hes, previous_delivery(data_dir, "hes", hes), outcome_tool, providers, manifest)


@dataclass(frozen=True)
class NotRead:
    """A file or folder the run found where deliveries live but did not read, and why."""

    source: str
    file: str  # relative to the data folder; a name holding an identifier is withheld
    reason: str


def _relative(path: Path, data_dir: Path) -> str:
    relative = path.relative_to(data_dir)
    return (relative.parent / safe_name(relative.name)).as_posix() + ("/" if path.is_dir() else "")


def files_not_read(data_dir: Path, used: DeliveriesInUse) -> list[NotRead]:
    """What sits in the deliveries in use but is not read (an extra file, an Excel lock file), and every
    folder whose name is not a quarter key (`2013q4`, `2013-Q4`), which no run ever reads. Listed in the
    report's appendix and the run manifest, so nothing delivered is ignored without notice."""
    found = []
    for source in ("hes", "outcome_tool", "provider_returns"):
        folder = data_dir / source
        for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
            if not (entry.is_dir() and is_quarter(entry.name)):
                reason = ("folder name is not a quarter key like 2013Q4: never read" if entry.is_dir()
                          else "not inside a quarter's folder")
                found.append(NotRead(source, _relative(entry, data_dir), reason))
    in_use = [("hes", used.hes), ("outcome_tool", used.outcome_tool),
              *(("provider_returns", key) for key in used.provider_returns)]
    for source, key in in_use:
        for entry in sorted((data_dir / source / key).iterdir()):
            if source in EXPECTED_FILES:
                if entry.name in EXPECTED_FILES[source] and entry.is_file():
                    continue
                reason = f"not a file of the {source.replace('_', '-')} delivery"
            elif entry.is_file() and entry.suffix.lower() in WORKBOOK_SUFFIXES:
                if not entry.name.startswith("~$"):
                    continue
                reason = "Excel lock file (the workbook was open when the delivery was copied)"
            else:
                reason = "not an .xlsx or .xlsm workbook"
            found.append(NotRead(source, _relative(entry, data_dir), reason))
    return found


def unreadable_returns(not_read: list[NotRead]) -> list[str]:
    """Provider returns saved in a workbook format the pipeline cannot read (`.xls`, `.xlsb`, `.ods`): a
    provider's quarter would be lost, so the run is refused rather than reporting without it."""
    return [f"{n.file}: refused — provider returns must be .xlsx or .xlsm workbooks (save it as .xlsx)"
            for n in not_read if n.source == "provider_returns" and n.file.lower().endswith(OTHER_WORKBOOK_SUFFIXES)]
