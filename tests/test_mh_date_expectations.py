"""The Great Expectations suite of staged referrals checks the mental-health dates independently of the SQL
rules (ADR 0020): none on an LTC referral, none before the referral, no re-access before its discharge."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from speval.validate.expectations import ROW_RULES, Coverage, run_suite


def test_the_referrals_suite_catches_each_mh_date_rule():
    expectations = ROW_RULES["referrals"](Coverage(dt.date(2011, 4, 1), dt.date(2013, 12, 31)))
    day = pd.to_datetime
    frame = pd.DataFrame({
        "PROGRAMME": ["LTC", "MH", "MH", "MH"],
        "REFERRAL_DATE": day(["2013-01-01"] * 4),
        "CLOSED_DATE": day([None] * 4),
        "MH_DISCHARGE_REVIEW_DATE": day([None, "2012-12-31", None, None]),
        "MH_DISCHARGE_DATE": day(["2013-06-01", None, "2013-06-01", "2013-06-01"]),
        "MH_REACCESS_DATE": day([None, None, "2013-05-31", "2013-06-01"]),
    })
    failed = {(f["expectation"], f["column"]): f["unexpected_count"] for f in run_suite("mh_dates", frame, expectations)}
    assert failed == {
        ("expect_column_values_to_be_null", "MH_DISCHARGE_DATE"): 1,  # on the LTC referral
        ("expect_column_pair_values_a_to_be_greater_than_b", "MH_DISCHARGE_REVIEW_DATE vs REFERRAL_DATE"): 1,
        ("expect_column_pair_values_a_to_be_greater_than_b", "MH_REACCESS_DATE vs MH_DISCHARGE_DATE"): 1,
    }
