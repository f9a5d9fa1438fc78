"""Runs are partitions: one per reporting quarter × programme (docs/decisions/0021-partitions.md).

The quarter and programme of a run come from its partition key, never from a typed field: the Launchpad
offers a partition picker, a backfill is a set of partitions, and each partition keeps its own history in the
catalog. Each partition builds its own DuckDB file (`data/warehouse/<PROGRAMME>/<QUARTER>.duckdb` by default),
so different partitions run side by side.
"""
from __future__ import annotations

import dagster as dg

from speval.run.quarters import Quarter
from speval.run.vocabulary import PROGRAMMES

#: The reporting quarters offered: from 2010 (before the first social prescribing evaluations this product
#: reproduces) to 2035. A quarter without a delivery is refused when the run starts, like any impossible run.
FIRST_QUARTER, LAST_QUARTER = Quarter(2010, 1), Quarter(2035, 4)
_QUARTERS = (LAST_QUARTER.year - FIRST_QUARTER.year) * 4 + LAST_QUARTER.number - FIRST_QUARTER.number + 1
QUARTER_KEYS = [FIRST_QUARTER.shift(i).key for i in range(_QUARTERS)]

evaluation_partitions = dg.MultiPartitionsDefinition({
    "quarter": dg.StaticPartitionsDefinition(QUARTER_KEYS),
    "programme": dg.StaticPartitionsDefinition([programme.code for programme in PROGRAMMES]),
})

_TAG = "dagster/partition/"  # Dagster tags a multi-partition run with one tag per dimension


def partition_key(quarter: str, programme: str) -> dg.MultiPartitionKey:
    """The partition of one evaluation, e.g. `partition_key("2013Q4", "LTC")` (shown as `LTC|2013Q4`)."""
    return dg.MultiPartitionKey({"quarter": str(quarter), "programme": str(programme)})


def run_partition(tags: dict[str, str]) -> tuple[str, str]:
    """(quarter, programme) of a run from its tags; a run launched without a partition is refused."""
    quarter, programme = tags.get(_TAG + "quarter"), tags.get(_TAG + "programme")
    if not quarter or not programme:
        raise dg.DagsterInvariantViolationError(
            "an evaluation run is one partition (quarter × programme): pick a partition in the Launchpad, or "
            "use `speval run --quarter … --programme …`")
    return quarter, programme
