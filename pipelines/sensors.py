"""React to new data: when a delivery folder appears under the data folder, or a file in one changes, request the
evaluation of every quarter and programme whose run uses that delivery (and is possible), once per state of
the delivery. Off by default, like the schedule; an evaluator turns it on in the UI."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg

from assets.partitions import QUARTER_KEYS, partition_key
from assets.resources import EvaluationSettings
from pipelines.jobs import quarterly_evaluation
from speval.ingest.deliveries import SOURCE_NAMES, delivery_keys
from speval.run.quarters import Quarter
from speval.run.spec import RunRefused, plan_run
from speval.run.vocabulary import PROGRAMMES

#: A delivery keyed Q can be used by the runs of Q and of the three quarters after it (a quarter with no
#: delivery of its own uses the latest one whose cut-off is within its four quarters); provider returns by every
#: later quarter, of which those within this many quarters of the newest delivery are looked at.
QUARTERS_AFTER = 3


def delivery_fingerprints(data_dir: Path) -> dict[str, str]:
    """Each delivery folder (`<source>/<QUARTER>`) with a fingerprint of its files' names, sizes and
    modification times: it changes when a file is added, removed, replaced or edited, without reading any."""
    prints = {}
    for source in SOURCE_NAMES:
        for key in delivery_keys(data_dir, source):
            folder = data_dir / source / key
            digest = hashlib.sha256()
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                stat = path.stat()
                digest.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
            prints[f"{source}/{key}"] = digest.hexdigest()
    return prints


def _uses(spec, source: str, key: str) -> bool:
    used = spec.planned
    return {"hes": used.hes == key, "outcome_tool": used.outcome_tool == key,
            "provider_returns": key in used.provider_returns}[source]


def runs_affected(data_dir: Path, changed: list[str], deliveries: list[str], today: dt.date
                  ) -> list[tuple[Quarter, str]]:
    """(quarter, programme) of every possible run that uses one of the `changed` deliveries (`deliveries`: every
    delivery folder found, `<source>/<QUARTER>`)."""
    newest = max((Quarter.parse(k.split("/")[1]) for k in deliveries), default=None)
    affected = set()
    for delivery in changed:
        source, key = delivery.split("/")
        first = Quarter.parse(key)
        last = (newest if source == "provider_returns" and newest else first).shift(QUARTERS_AFTER)
        quarter = first
        while quarter <= last:
            for programme in PROGRAMMES:
                settings = EvaluationSettings(data_dir=str(data_dir))
                try:
                    spec = plan_run(settings.run_spec(quarter.key, programme.code), today=today)
                except RunRefused:
                    continue
                if _uses(spec, source, key):
                    affected.add((quarter, programme.code))
            quarter = quarter.shift(1)
    return sorted(affected, key=lambda qp: (qp[0], qp[1]))


@dg.sensor(job=quarterly_evaluation, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def new_delivery_sensor(context: dg.SensorEvaluationContext):
    """Requests the runs a new or changed delivery affects; the cursor keeps each delivery's fingerprint."""
    data_dir = Path(EvaluationSettings().data_dir)
    prints = delivery_fingerprints(data_dir)
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(k for k, v in prints.items() if seen.get(k) != v)
    context.update_cursor(json.dumps(prints, sort_keys=True))
    if not changed:
        return dg.SkipReason("no new or changed delivery")
    state = hashlib.sha256(json.dumps(prints, sort_keys=True).encode()).hexdigest()[:12]
    requests = [
        dg.RunRequest(run_key=f"{programme}-{quarter}-{state}", partition_key=partition_key(quarter.key, programme))
        for quarter, programme in runs_affected(data_dir, changed, list(prints), dt.date.today())
        if quarter.key in QUARTER_KEYS  # a quarter the partitions offer (assets/partitions.py)
    ]
    if not requests:
        return dg.SkipReason(f"{', '.join(changed)} changed, but no run that uses it is possible yet")
    return requests
