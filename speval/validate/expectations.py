"""Great Expectations suites: what every staged (accepted) table must satisfy, one suite per file type.

The row-level rules run as set-based SQL in DuckDB (`speval.validate.rules`) and quarantine what breaks them;
these suites then check, with an independent engine, that the accepted rows really meet the contract. What
the contract declares (columns, mandatory fields, keys, code sets, ranges) is read from `speval.ingest.contract`;
the row rules it states in SQL are restated below in GX terms.
They run in blocking Dagster asset checks: a failure means a rule let a bad row through, and the run stops
before any report. GX 1.x validates pandas frames with an ephemeral context (no Polars or DuckDB engine
that works here); it is imported lazily because it takes seconds to import.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from speval.ingest.contract import SPECS, FileSpec


@dataclass(frozen=True)
class Coverage:
    """The HES delivery in use covers coverage_start to cutoff."""

    start: dt.date
    cutoff: dt.date


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    return gx


# Building blocks, named as an analyst would say them.
def columns(*names: str) -> list:
    return [_gx().expectations.ExpectColumnToExist(column=n) for n in names]


def never_blank(*names: str) -> list:
    return [_gx().expectations.ExpectColumnValuesToNotBeNull(column=n) for n in names]


def one_of(column: str, *values: str) -> list:
    return [_gx().expectations.ExpectColumnValuesToBeInSet(column=column, value_set=list(values))]


def between(column: str, low: Any = None, high: Any = None) -> list:
    if isinstance(low, dt.date):
        low = pd.Timestamp(low)
    if isinstance(high, dt.date):
        high = pd.Timestamp(high)
    return [_gx().expectations.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)]


def unique(column: str) -> list:
    return [_gx().expectations.ExpectColumnValuesToBeUnique(column=column)]


def not_before(later: str, earlier: str) -> list:
    return [_gx().expectations.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=later, column_B=earlier, or_equal=True, ignore_row_if="either_value_is_missing")]


def matches(column: str, pattern: str) -> list:
    return [_gx().expectations.ExpectColumnValuesToMatchRegex(column=column, regex=pattern)]


def within_coverage(column: str, c: Coverage) -> list:
    return between(column, c.start, c.cutoff)


def declared(spec: FileSpec) -> list:
    """What the contract declares for the file (speval/ingest/contract.py, the single source): its columns, the
    fields never blank, the unique key, the code sets and the numeric ranges."""
    return [
        *columns(*spec.required_columns),
        *never_blank(*(c.name for c in spec.columns if c.mandatory)),
        *(unique(spec.key[0]) if len(spec.key) == 1 else []),
        *(e for c in spec.columns if c.codes for e in one_of(c.name, *c.codes)),
        *(e for c in spec.columns if c.min is not None or c.max is not None for e in between(c.name, c.min, c.max)),
    ]


# Row rules the contract states in SQL (cross-column order, coverage, code formats), restated for GX.
ROW_RULES = {
    "persons": lambda c: [*not_before("REGISTERED_TO", "REGISTERED_FROM")],
    "apc": lambda c: [
        *matches("ADMIMETH", r"^[0-9A-Z]{2}$"),
        *not_before("EPISTART", "ADMIDATE"), *not_before("EPIEND", "EPISTART"), *not_before("DISDATE", "ADMIDATE"),
        *within_coverage("ADMIDATE", c), *within_coverage("EPISTART", c),
    ],
    "ae": lambda c: [*matches("ARRIVALTIME", r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"),
                     *within_coverage("ARRIVALDATE", c)],
    "op": lambda c: [*within_coverage("APPTDATE", c)],
    "referrals": lambda c: [
        *not_before("CLOSED_DATE", "REFERRAL_DATE"),
        *not_before("MH_DISCHARGE_REVIEW_DATE", "REFERRAL_DATE"), *not_before("MH_DISCHARGE_DATE", "REFERRAL_DATE"),
        *not_before("MH_REACCESS_DATE", "REFERRAL_DATE"), *not_before("MH_REACCESS_DATE", "MH_DISCHARGE_DATE"),
        *mh_dates_blank_outside_mh(),
    ],
    "provider_activity": lambda c: [*not_before("END_DATE", "START_DATE")],
}


def mh_dates_blank_outside_mh() -> list:
    """The mental-health dates are blank on every referral that is not MH (ADR 0020)."""
    from great_expectations.expectations.row_conditions import Column

    return [_gx().expectations.ExpectColumnValuesToBeNull(column=f, row_condition=Column("PROGRAMME") != "MH")
            for f in ("MH_DISCHARGE_REVIEW_DATE", "MH_DISCHARGE_DATE", "MH_REACCESS_DATE")]


def suite(name: str, c: Coverage) -> list:
    """The expectations for the staged table of file type `name`."""
    return declared(SPECS[name]) + ROW_RULES.get(name, lambda _: [])(c)


def reference_suite(name: str) -> list:
    """The expectations for the reference table `name` (speval/economics/reference.py declares its fields):
    its columns, the fields never blank, the code sets, the ranges, financial years written 2013/14, and one
    row per key."""
    from speval.economics.reference import FINANCIAL_YEAR, REFERENCE

    spec = REFERENCE[name]
    return [
        *columns(*spec.columns),
        *never_blank(*(f.name for f in spec.fields if f.required)),
        *(e for f in spec.fields if f.codes for e in one_of(f.name, *f.codes)),
        *(e for f in spec.fields if f.min is not None or f.max is not None for e in between(f.name, f.min, f.max)),
        *(e for f in spec.fields if f.kind == "year" for e in matches(f.name, FINANCIAL_YEAR)),
        *(unique(spec.key[0]) if len(spec.key) == 1 else
          [_gx().expectations.ExpectCompoundColumnsToBeUnique(column_list=list(spec.key))]),
    ]


_CONTEXT = None
#: Each suite's batch definition (all rows of one dataframe asset), made once per process: GX saves its whole
#: configuration whenever an asset is added, so an asset per validation would cost more with every suite run.
_BATCH_DEFINITIONS: dict[str, Any] = {}


def validate(name: str, frame: pd.DataFrame, coverage: Coverage) -> list[dict]:
    """Validate `frame` (a staged table) against its suite; return the failed expectations (no cell values)."""
    return run_suite(f"staged_{name}", frame, suite(name, coverage))


def run_suite(suite_name: str, frame: pd.DataFrame, expectations: list) -> list[dict]:
    """Validate `frame` against `expectations`; return the failed expectations (no cell values)."""
    gx = _gx()
    batch = _batch_definition(suite_name).get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
    # Pass or fail first (GX's cheapest result format: no counts, no unexpected values); the counts an analyst
    # needs are computed only for a suite that failed. The same expectations decide in both passes.
    if batch.validate(suite, result_format="BOOLEAN_ONLY").success:
        return []
    result = batch.validate(suite)
    failed = []
    for r in result.results:
        if not r.success:
            config = r.expectation_config
            failed.append({
                "expectation": config.type,
                "column": config.kwargs.get("column") or (", ".join(config.kwargs["column_list"])
                                                          if config.kwargs.get("column_list") else
                                                          f"{config.kwargs.get('column_A')} vs {config.kwargs.get('column_B')}"),
                "unexpected_count": (r.result or {}).get("unexpected_count"),
                "element_count": (r.result or {}).get("element_count"),
                "error": (r.exception_info or {}).get("exception_message") if r.exception_info else None,
            })
    return failed


def _batch_definition(suite_name: str) -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = _gx().get_context(mode="ephemeral")
        _CONTEXT.variables.progress_bars = {"globally": False}
        _CONTEXT.data_sources.add_pandas("staged")
    if suite_name not in _BATCH_DEFINITIONS:
        asset = _CONTEXT.data_sources.get("staged").add_dataframe_asset(name=suite_name)
        _BATCH_DEFINITIONS[suite_name] = asset.add_batch_definition_whole_dataframe("all rows")
    return _BATCH_DEFINITIONS[suite_name]
