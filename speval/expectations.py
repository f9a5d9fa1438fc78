"""Great Expectations suites: what every staged (accepted) table must satisfy, one suite per file type.

The row-level rules run as set-based SQL in DuckDB (`speval.validate`) and quarantine what breaks them;
these suites then check, with an independent engine, that the accepted rows really meet the contract.
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


SCORES = ("FEELING_POSITIVE", "LIFESTYLE", "LOOKING_AFTER_YOURSELF", "MANAGING_SYMPTOMS",
          "WORK_VOLUNTEERING_SOCIAL", "MONEY", "WHERE_YOU_LIVE", "FAMILY_FRIENDS")


def suite(name: str, c: Coverage) -> list:
    """The expectations for the staged table of file type `name`."""
    suites = {
        "persons": lambda: [
            *columns("TOKEN_PERSON_ID", "YEAR_OF_BIRTH", "SEX", "LSOA11", "IMD_DECILE", "GPPRAC", "LTC_COUNT",
                     "RISK_SCORE", "REGISTERED_FROM", "REGISTERED_TO", "DATE_OF_DEATH"),
            *never_blank("TOKEN_PERSON_ID", "YEAR_OF_BIRTH", "SEX", "GPPRAC", "REGISTERED_FROM"),
            *unique("TOKEN_PERSON_ID"),
            *one_of("SEX", "1", "2", "9"),
            *between("IMD_DECILE", 1, 10), *between("LTC_COUNT", 0), *between("RISK_SCORE", 0, 100),
            *not_before("REGISTERED_TO", "REGISTERED_FROM"),
        ],
        "apc": lambda: [
            *columns("TOKEN_PERSON_ID", "EPIKEY", "PROCODE3", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE",
                     "EPIORDER", "EPISTAT", "ADMIMETH", "CLASSPAT", "DISMETH", "DIAG_4_01"),
            *never_blank("TOKEN_PERSON_ID", "EPIKEY", "PROCODE3", "ADMIDATE", "EPISTART", "EPISTAT", "ADMIMETH",
                         "CLASSPAT"),
            *unique("EPIKEY"),
            *one_of("CLASSPAT", "1", "2", "3", "4", "5"),
            *matches("ADMIMETH", r"^[0-9A-Z]{2}$"),
            *not_before("EPISTART", "ADMIDATE"), *not_before("EPIEND", "EPISTART"),
            *not_before("DISDATE", "ADMIDATE"),
            *within_coverage("ADMIDATE", c), *within_coverage("EPISTART", c),
        ],
        "ae": lambda: [
            *columns("TOKEN_PERSON_ID", "AEKEY", "PROCODE3", "ARRIVALDATE", "ARRIVALTIME", "AEATTENDCAT",
                     "AEARRIVALMODE", "AEATTENDDISP"),
            *never_blank("TOKEN_PERSON_ID", "AEKEY", "PROCODE3", "ARRIVALDATE", "ARRIVALTIME", "AEATTENDCAT"),
            *unique("AEKEY"),
            *one_of("AEATTENDCAT", "1", "2", "3"),
            *matches("ARRIVALTIME", r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"),
            *within_coverage("ARRIVALDATE", c),
        ],
        "op": lambda: [
            *columns("TOKEN_PERSON_ID", "ATTENDKEY", "PROCODE3", "APPTDATE", "ATTENDED", "FIRSTATT", "TRETSPEF"),
            *never_blank("TOKEN_PERSON_ID", "ATTENDKEY", "PROCODE3", "APPTDATE", "ATTENDED"),
            *unique("ATTENDKEY"),
            *one_of("ATTENDED", "0", "2", "3", "4", "5", "6", "7", "9"),
            *one_of("FIRSTATT", "1", "2", "3", "4"),
            *within_coverage("APPTDATE", c),
        ],
        "referrals": lambda: [
            *columns("REFERRAL_ID", "TOKEN_PERSON_ID", "PROGRAMME", "REFERRAL_DATE", "STATUS", "CLOSED_DATE"),
            *never_blank("REFERRAL_ID", "TOKEN_PERSON_ID", "PROGRAMME", "REFERRAL_DATE"),
            *unique("REFERRAL_ID"),
            *one_of("PROGRAMME", "LTC", "MH"),
            *one_of("STATUS", "Referred", "Engaged", "Took up", "Declined", "Closed"),
            *not_before("CLOSED_DATE", "REFERRAL_DATE"),
        ],
        "onward_referrals": lambda: [
            *columns("ONWARD_ID", "REFERRAL_ID", "ONWARD_DATE", "FUNDING"),
            *never_blank("ONWARD_ID", "REFERRAL_ID", "ONWARD_DATE", "FUNDING"),
            *unique("ONWARD_ID"),
            *one_of("FUNDING", "Funded", "Non-funded", "Statutory"),
        ],
        "assessments": lambda: [
            *columns("ASSESSMENT_ID", "REFERRAL_ID", "ASSESSMENT_DATE", "ASSESSMENT_TYPE", *SCORES),
            *never_blank("ASSESSMENT_ID", "REFERRAL_ID", "ASSESSMENT_DATE", "ASSESSMENT_TYPE"),
            *unique("ASSESSMENT_ID"),
            *one_of("ASSESSMENT_TYPE", "Baseline", "Review"),
            *(e for score in SCORES for e in between(score, 1, 5)),
        ],
        "provider_cover": lambda: [*columns("FIELD", "VALUE"), *never_blank("FIELD")],
        "provider_activity": lambda: [
            *columns("REFERRAL_ID", "SERVICE_CODE", "START_DATE", "END_DATE", "SESSIONS_ATTENDED", "OUTCOME"),
            *never_blank("REFERRAL_ID"), *between("SESSIONS_ATTENDED", 0), *not_before("END_DATE", "START_DATE"),
        ],
        "provider_volunteering": lambda: [
            *columns("MONTH", "VOLUNTEERS", "HOURS"), *never_blank("MONTH"),
            *between("VOLUNTEERS", 0), *between("HOURS", 0),
        ],
        "provider_welfare": lambda: [
            *columns("REFERRAL_ID", "BENEFIT_TYPE", "AWARD_DATE", "WEEKLY_AMOUNT_GBP"),
            *never_blank("REFERRAL_ID", "BENEFIT_TYPE", "WEEKLY_AMOUNT_GBP"), *between("WEEKLY_AMOUNT_GBP", 0),
        ],
        "provider_funding": lambda: [
            *columns("FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"),
            *never_blank("FUNDER", "AMOUNT_GBP"), *between("AMOUNT_GBP", 0),
            *one_of("ATTRIBUTED_TO_PROGRAMME", "Y", "N"),
        ],
    }
    return suites[name]()


_CONTEXT = None


def validate(name: str, frame: pd.DataFrame, coverage: Coverage) -> list[dict]:
    """Validate `frame` (a staged table) against its suite; return the failed expectations (no cell values)."""
    global _CONTEXT
    gx = _gx()
    if _CONTEXT is None:
        _CONTEXT = gx.get_context(mode="ephemeral")
        _CONTEXT.variables.progress_bars = {"globally": False}
        _CONTEXT.data_sources.add_pandas("staged")
    source = _CONTEXT.data_sources.get("staged")
    asset = source.add_dataframe_asset(name=f"{name}_{len(source.assets)}")
    batch = asset.add_batch_definition_whole_dataframe("all rows").get_batch(batch_parameters={"dataframe": frame})
    expectations = gx.ExpectationSuite(name=f"staged_{name}", expectations=suite(name, coverage))
    result = batch.validate(expectations)
    failed = []
    for r in result.results:
        if not r.success:
            config = r.expectation_config
            failed.append({
                "expectation": config.type,
                "column": config.kwargs.get("column") or f"{config.kwargs.get('column_A')} vs {config.kwargs.get('column_B')}",
                "unexpected_count": (r.result or {}).get("unexpected_count"),
                "element_count": (r.result or {}).get("element_count"),
                "error": (r.exception_info or {}).get("exception_message") if r.exception_info else None,
            })
    return failed
