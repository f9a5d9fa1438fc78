"""NHS Digital HES disclosure control (speval.report.disclosure), exact small cases."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from speval.report import disclosure as dc


# ----------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, "0"), (1, "*"), (2, "*"), (7, "*"), (8, "10"), (12, "10"), (13, "15"),
     (17, "15"), (18, "20"), (22, "20"), (23, "25"), (1002, "1000"), (1003, "1005"),
     (8.0, "10"), (None, "")],
)
def test_publish_count(n, shown):
    assert dc.publish_count(n) == shown


def test_round5():
    assert [dc.round5(n) for n in (0, 1, 7, 8, 12, 13, 100)] == [0, None, None, 10, 10, 15, 100]


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_counts_must_be_whole_and_non_negative(bad):
    with pytest.raises(ValueError):
        dc.publish_count(bad)


# ----------------------------------------------------------------------- rounding


def test_half_up_rounding_not_bankers():
    # Python's round() gives 12 and 2 (round half to even); the report rounds half up.
    assert dc.round_half_up(12.5) == 13
    assert dc.round_half_up(2.5) == 3
    assert dc.round_half_up(-2.5) == -3  # half away from zero
    assert dc.format_decimal(1.125, 2) == "1.13"
    assert dc.format_decimal(2.675, 2) == "2.68"  # float 2.675 is 2.67499...; shown as written
    assert dc.format_decimal(-0.001, 2) == "0.00"  # never "-0.00"
    assert dc.format_decimal(-0.4, 0) == "0"


# ----------------------------------------------------------------------- percentages


@pytest.mark.parametrize(
    ("num", "den", "shown"),
    [
        (8, 40, "25"),     # 10 / 40
        (12, 38, "25"),    # 10 / 40
        (13, 38, "38"),    # 15 / 40 = 37.5 -> 38 (half up)
        (0, 40, "0"),
        (40, 40, "100"),
        (5, 40, "*"),      # numerator suppressed
        (0, 5, "*"),       # denominator suppressed
        (5, 5, "*"),
        (0, 0, ""),        # no people: blank
        (None, 40, ""),
    ],
)
def test_publish_pct_from_rounded_counts(num, den, shown):
    assert dc.publish_pct(num, den) == shown


def test_pct_numerator_cannot_exceed_denominator():
    with pytest.raises(ValueError):
        dc.publish_pct(41, 40)


# ----------------------------------------------------------------------- means


def test_publish_mean_group_size():
    assert dc.publish_mean(1.2345, 7) == "*"
    assert dc.publish_mean(1.2345, 8) == "1.23"
    assert dc.publish_mean(1.125, 8) == "1.13"
    assert dc.publish_mean(1.2345, 1) == "*"
    assert dc.publish_mean(1.2345, 0) == ""      # empty group: blank mean
    assert dc.publish_mean(None, 0) == ""
    assert dc.publish_mean(None, 50) == ""       # e.g. % change with nothing before
    assert dc.publish_mean(float("nan"), 50) == ""
    assert dc.publish_mean(-20.5, 100, decimals=0) == "-21"
    assert dc.publish_mean(-0.3, 100, decimals=0) == "0"


# ----------------------------------------------------------------------- hospital use


def test_publish_hospital_use_round_trip():
    raw = pl.DataFrame(
        [
            # cohort, group, measure, n, before, after, change, pct
            ("12m", "all", "inpatient_admissions", 108, 1.4630, 1.1667, -0.2963, -20.2532),
            ("12m", "all", "ae_attendances", 108, 0.0, 0.25, 0.25, None),
            ("12m", "funded", "inpatient_admissions", 5, 3.1416, 1.5708, -1.5708, -50.0),
            ("12m", "funded", "ae_attendances", 5, 2.0, 1.0, -1.0, -50.0),
            ("6m", "all", "inpatient_admissions", 451, 0.5876, 0.5055, -0.0821, -13.9721),
            ("6m", "all", "ae_attendances", 451, 0.7605, 0.6696, -0.0909, -11.9530),
            ("6m", "funded", "inpatient_admissions", 0, None, None, None, None),
            ("6m", "funded", "ae_attendances", 8, 1.125, 1.0, -0.125, -11.1111),
        ],
        schema=["cohort", "group", "measure", "n_patients", "mean_before", "mean_after",
                "change", "pct_change"],
        orient="row",
    )
    expected = pl.DataFrame(
        [
            ("12m", "all", "inpatient_admissions", "110", "1.46", "1.17", "-0.30", "-20"),
            ("12m", "all", "ae_attendances", "110", "0.00", "0.25", "0.25", ""),
            ("12m", "funded", "inpatient_admissions", "*", "*", "*", "*", "*"),
            ("12m", "funded", "ae_attendances", "*", "*", "*", "*", "*"),
            ("6m", "all", "inpatient_admissions", "450", "0.59", "0.51", "-0.08", "-14"),
            ("6m", "all", "ae_attendances", "450", "0.76", "0.67", "-0.09", "-12"),
            ("6m", "funded", "inpatient_admissions", "0", "", "", "", ""),
            ("6m", "funded", "ae_attendances", "10", "1.13", "1.00", "-0.13", "-11"),
        ],
        schema={c: pl.String for c in dc.HOSPITAL_USE_COLUMNS},
        orient="row",
    )
    assert_frame_equal(dc.publish_hospital_use(raw), expected)


def test_publish_hospital_use_empty_table():
    empty = pl.DataFrame(schema={"cohort": pl.String, "group": pl.String,
                                 "measure": pl.String, "n_patients": pl.Int64,
                                 "mean_before": pl.Float64, "mean_after": pl.Float64,
                                 "change": pl.Float64, "pct_change": pl.Float64})
    out = dc.publish_hospital_use(empty)
    assert out.height == 0 and out.columns == dc.HOSPITAL_USE_COLUMNS


# ----------------------------------------------------------------------- well-being


def test_publish_wellbeing():
    raw = pl.DataFrame(
        [
            # measure, baseline_n, baseline_mean, low_pct, followup_n, followup_mean,
            # progress_pct, progress_low_pct
            ("feeling_positive", 819, 3.0806, 100 * 246 / 819, 280, 3.6214, 35.0, 61.0),
            # 25% of 50 = 12.5 people -> 13 (half up) -> 15/50 = 30%
            ("lifestyle", 50, 3.39, 25.0, 8, 3.78, 50.0, None),
            ("money", 819, 4.05, 10.0, 7, 4.2718, 42.857, 100.0),
            ("where_you_live", 3, 4.0, 33.333, 0, None, None, None),
        ],
        schema=dc.WELLBEING_COLUMNS,
        orient="row",
    )
    expected = pl.DataFrame(
        [
            # 246 -> 245 of 820 = 29.9 -> 30; 98 -> 100 of 280 = 35.7 -> 36
            ("feeling_positive", "820", "3.08", "30", "280", "3.62", "36", "61"),
            # progress: 4 of 8 -> numerator suppressed
            ("lifestyle", "50", "3.39", "30", "10", "3.78", "*", ""),
            ("money", "820", "4.05", "10", "*", "*", "*", "*"),
            ("where_you_live", "*", "*", "*", "0", "", "", ""),
        ],
        schema={c: pl.String for c in dc.WELLBEING_COLUMNS},
        orient="row",
    )
    assert_frame_equal(dc.publish_wellbeing(raw), expected)


def test_progress_low_pct_published_only_from_eight_followed_up():
    assert dc.publish_progress_low_pct(61.4, 8) == "61"
    # With the low-scorer denominator from the warehouse, the full rule: a group of 1-7 is *, however many were
    # followed up; otherwise the percentage from the rounded counts (12 of 20 -> 10 of 20 = 50%).
    frame = pl.DataFrame({"measure": ["money", "family_friends"], "baseline_n": [100, 100], "baseline_mean": [3.0, 3.0],
                          "baseline_low_pct": [10.0, 10.0], "followup_n": [40, 40], "followup_mean": [3.5, 3.5],
                          "progress_pct": [50.0, 50.0], "progress_low_pct": [100.0, 60.0]})
    published = dc.publish_wellbeing(frame, {"money": 3, "family_friends": 20})
    assert published["progress_low_pct"].to_list() == ["*", "50"]
    assert dc.publish_wellbeing(frame)["progress_low_pct"].to_list() == ["100", "60"]  # without it: followup_n
    assert dc.publish_progress_low_pct(61.4, 7) == "*"
    assert dc.publish_progress_low_pct(None, 7) == "*"
    assert dc.publish_progress_low_pct(None, 8) == ""
    assert dc.publish_progress_low_pct(None, 0) == ""


# ----------------------------------------------------------------------- other tables


def test_publish_attrition_orders_steps_and_controls_exclusions():
    raw = pl.DataFrame({
        "cohort": ["12m"] * 6,
        "step": ["registered", "alive", "post_window_covered", "pre_window_covered",
                 "linked", "referred"],
        "n": [108, 112, 120, 870, 880, 912],
    })
    out = dc.publish_attrition(raw)
    assert out["step"].to_list() == dc.ATTRITION_STEPS
    assert out["n"].to_list() == ["910", "880", "870", "120", "110", "110"]
    assert out["excluded"].to_list() == ["", "30", "10", "750", "10", "*"]


def test_file_rows_are_printed_exactly():
    """Rows of a delivered file are not people (ADR 0003): Appendix A prints them exactly, so each file's
    reconciliation can be checked; quarantined rows per reason add up to the file's quarantined rows."""
    from speval.report.sections.appendices import file_rows, quarantined_by_reason

    rec = pl.DataFrame({"source": ["hes"], "file": ["hes/2013Q4/apc.csv"], "rows_read": [1003],
                        "rows_accepted": [990], "rows_quarantined": [6], "rows_duplicate": [7]})
    assert file_rows(rec).row(0) == ("hes", "hes/2013Q4/apc.csv", "1003", "990", "6", "7")
    q = pl.DataFrame({
        "source": ["hes"] * 12,
        "file": ["hes/2013Q4/apc.csv"] * 12,
        "row_number": list(range(2, 14)),
        "reason": ["bad date"] * 9 + ["unknown person"] * 3,
    })
    out = quarantined_by_reason(q)
    assert out.columns == ["source", "file", "reason", "rows"]  # no row numbers
    assert out.rows() == [("hes", "hes/2013Q4/apc.csv", "bad date", "9"),
                          ("hes", "hes/2013Q4/apc.csv", "unknown person", "3")]
    assert file_rows(None).height == 0 and quarantined_by_reason(q.clear()).height == 0


# ----------------------------------------------------------------------- HES data quality


def test_publish_hes_file_quality_controls_every_count():
    import datetime as dt

    fq = pl.DataFrame({
        "delivery": ["2013Q4", "2013Q4"],
        "file": ["hes/2013Q4/op.csv", "hes/2013Q4/persons.csv"],
        "rows_read": [32412, 5003], "rows_accepted": [32400, 4993], "rows_duplicate": [0, 6],
        "rows_conflicting_key": [2, 4], "rows_quarantined_other": [10, 0],
        "date_column": ["APPTDATE", "REGISTERED_FROM"],
        "first_date": [dt.date(2011, 4, 4), None], "last_date": ["2013-12-20", None],
        "previous_delivery": ["2013Q3", None],
        "records_revised": [128, None], "records_withdrawn": [9, None], "records_new": [3907, None],
    })
    out = dc.publish_hes_file_quality(fq)
    assert out.columns == dc.HES_FILE_QUALITY_COLUMNS
    assert out.row(0, named=True) == {
        "delivery": "2013Q4", "file": "hes/2013Q4/op.csv", "rows_read": "32410",
        "rows_accepted": "32400", "rows_duplicate": "0", "rows_conflicting_key": "*",
        "rows_quarantined_other": "10", "date_column": "APPTDATE", "first_date": "2011-04-04",
        "last_date": "2013-12-20", "previous_delivery": "2013Q3", "records_revised": "130",
        "records_withdrawn": "10", "records_new": "3905"}
    # No previous delivery: change counts blank, not 0; missing dates blank.
    row = out.row(1, named=True)
    assert (row["rows_read"], row["rows_duplicate"], row["rows_conflicting_key"]) == ("5005", "*", "*")
    assert (row["first_date"], row["last_date"], row["previous_delivery"]) == ("", "", "")
    assert (row["records_revised"], row["records_withdrawn"], row["records_new"]) == ("", "", "")


@pytest.mark.parametrize(
    ("pct", "shown"),
    [(0, "0.0"), (0.02, "<0.1"), (0.049, "<0.1"), (0.05, "0.1"), (0.135, "0.1"),
     (4.06, "4.1"), (12.25, "12.3"), (99.94, "99.9"), (99.96, ">99.9"), (100, "100.0"),
     (None, "")],
)
def test_publish_record_pct(pct, shown):
    assert dc.publish_record_pct(pct) == shown


def test_publish_record_pct_rejects_out_of_range():
    with pytest.raises(ValueError):
        dc.publish_record_pct(100.5)


def test_publish_hes_missingness():
    miss = pl.DataFrame({
        "file": ["hes/2013Q4/persons.csv"] * 3,
        "column_name": ["DATE_OF_DEATH", "IMD_DECILE", "LSOA11"],
        "rows_read": [5003, 5003, 5003], "rows_missing": [4871, 1, 3],
        "pct_missing": [100 * 4871 / 5003, 100 / 5003, None],  # blank: recomputed
    })
    assert dc.publish_hes_missingness(miss).rows() == [
        ("hes/2013Q4/persons.csv", "DATE_OF_DEATH", "5005", "4870", "97.4"),
        ("hes/2013Q4/persons.csv", "IMD_DECILE", "5005", "*", "<0.1"),
        ("hes/2013Q4/persons.csv", "LSOA11", "5005", "*", "0.1"),
    ]


def test_publish_matched_effects_and_balance():
    me = pl.DataFrame({
        "cohort": ["12m", "6m"], "measure": ["inpatient_admissions"] * 2,
        "n_treated": [108, 40], "n_controls": [320, 5],
        "treated_before": [1.463, 0.5], "treated_after": [1.1667, 0.4],
        "control_before": [1.41, 0.55], "control_after": [1.30, 0.50],
        "did": [-0.1863, -0.05], "did_ci_low": [-0.412, -0.3], "did_ci_high": [0.0494, 0.2],
    })
    out = dc.publish_matched_effects(me)
    assert out.row(0) == ("12m", "inpatient_admissions", "110", "320", "1.46", "1.17",
                          "1.41", "1.30", "-0.19", "-0.41", "0.05")
    assert out.row(1) == ("6m", "inpatient_admissions", "40", "*", "0.50", "0.40",
                          "*", "*", "*", "*", "*")
    bal = pl.DataFrame({"cohort": ["12m", "6m"], "covariate": ["age", "age"],
                        "smd_before": [0.3149, 0.5], "smd_after": [0.0351, 0.1]})
    assert dc.publish_balance(bal, me).rows() == [("12m", "age", "0.31", "0.04"),
                                                  ("6m", "age", "*", "*")]


def test_balance_fails_closed_for_cohorts_without_group_sizes():
    bal = pl.DataFrame({"cohort": ["12m", "6m"], "covariate": ["age", "age"],
                        "smd_before": [0.3149, 0.5], "smd_after": [0.0351, 0.1]})
    me = pl.DataFrame({"cohort": ["12m"], "measure": ["inpatient_admissions"],
                       "n_treated": [108], "n_controls": [320]})
    assert dc.publish_balance(bal, me).rows() == [("12m", "age", "0.31", "0.04"),
                                                  ("6m", "age", "*", "*")]
    # An empty (even column-less) effects table: no size is known, everything withheld.
    assert dc.publish_balance(bal, pl.DataFrame())["smd_before"].to_list() == ["*", "*"]
    # No one matched: blank, like any mean over an empty group.
    me0 = me.with_columns(pl.lit(0).alias("n_treated"))
    assert dc.publish_balance(bal.head(1), me0).row(0) == ("12m", "age", "", "")


def _effects_all() -> pl.DataFrame:
    return pl.DataFrame({
        "setting": ["primary", "primary", "caliper 0.1 SD, 1:1, without replacement"],
        "cohort": ["12m", "6m", "12m"], "measure": ["emergency_admissions"] * 3,
        "n_treated": [96, 6, 84], "n_controls": [96, 6, 0],
        "treated_before": [0.9815, 6.5432, 0.9], "treated_after": [0.7656, 5.1, 0.7],
        "control_before": [0.952, 6.3, None], "control_after": [0.8269, 6.1, None],
        "did": [-0.0843, -7.7777, None], "did_ci_low": [-0.2116, -9.1, None],
        "did_ci_high": [0.0391, -6.4, None],
        "rate_ratio": [0.8862, 0.1357, None], "rr_ci_low": [0.7311, 0.11, None],
        "rr_ci_high": [1.0693, 0.22, None],
    })


def test_publish_matched_effects_all_settings():
    out = dc.publish_matched_effects_all_settings(_effects_all())
    assert out.columns == dc.MATCHED_EFFECTS_ALL_SETTINGS_COLUMNS
    # A table without the doubly robust and E-value columns (an older warehouse): published blank.
    assert out.row(0) == ("primary", "12m", "emergency_admissions", "95", "95", "0.98", "0.77",
                          "0.95", "0.83", "-0.08", "-0.21", "0.04", "0.89", "0.73", "1.07",
                          *[""] * 8)
    # 6 matched: every estimate of the cohort suppressed, rate ratio included.
    assert out.row(1) == ("primary", "6m", "emergency_admissions", "*", "*", *["*"] * 18)
    # No controls: treated means shown, anything using the controls blank.
    assert out.row(2)[3:] == ("85", "0", "0.90", "0.70", *[""] * 16)
    # Empty tables, with or without columns.
    assert dc.publish_matched_effects_all_settings(_effects_all().clear()).height == 0
    assert dc.publish_matched_effects_all_settings(pl.DataFrame()).height == 0


def _with_new_estimates(df: pl.DataFrame) -> pl.DataFrame:
    """_effects_all with the doubly robust estimate (primary setting only) and the E-values."""
    return df.with_columns(
        pl.Series("did_adjusted", [-0.0551, -8.8817, None]),
        pl.Series("did_adjusted_ci_low", [-0.3794, -9.9, None]),
        pl.Series("did_adjusted_ci_high", [0.2125, -7.6, None]),
        pl.Series("rate_ratio_adjusted", [0.9256, 0.1234, None]),
        pl.Series("rr_adjusted_ci_low", [0.6347, 0.1011, None]),
        pl.Series("rr_adjusted_ci_high", [1.4166, 0.1999, None]),
        pl.Series("e_value", [1.6712, 5.4729, None]),
        pl.Series("e_value_ci", [1.0, 4.9876, None]),
    )


NEW_COLUMNS = [*dc.ADJUSTED_COLUMNS, *dc.E_VALUE_COLUMNS]


def test_new_estimates_shown_for_a_large_matched_group():
    out = dc.publish_matched_effects_all_settings(_with_new_estimates(_effects_all()))
    row = dict(zip(out.columns, out.row(0)))
    assert [row[c] for c in NEW_COLUMNS] == ["-0.06", "-0.38", "0.21", "0.93", "0.63", "1.42",
                                             "1.67", "1.00"]
    # A sensitivity setting has no doubly robust estimate: blank, like any missing value.
    assert [dict(zip(out.columns, out.row(2)))[c] for c in NEW_COLUMNS] == [""] * 8


def test_new_estimates_suppressed_exactly_when_did_is():
    df = _with_new_estimates(_effects_all())
    out = dc.publish_matched_effects_all_settings(df)
    small = dict(zip(out.columns, out.row(1)))  # 6 matched: did suppressed
    assert small["did"] == "*"
    assert [small[c] for c in NEW_COLUMNS] == ["*"] * 8
    # Suppression follows the smaller matched group, as did does: 7 controls suppress, 8 do not.
    for n_controls, shown in ((7, "*"), (8, "-8.88")):
        one = df.slice(1, 1).with_columns(pl.lit(40).alias("n_treated"),
                                          pl.lit(n_controls).alias("n_controls"))
        row = dict(zip(out.columns, dc.publish_matched_effects_all_settings(one).row(0)))
        assert row["did_adjusted"] == shown
        assert all((row[c] == "*") == (row["did"] == "*") for c in NEW_COLUMNS)
    # An infinite or NaN value (an undefined ratio) is blank, never "inf" or "nan".
    odd = df.head(1).with_columns(pl.lit(float("inf")).alias("rate_ratio_adjusted"),
                                  pl.lit(float("nan")).alias("e_value"))
    row = dict(zip(out.columns, dc.publish_matched_effects_all_settings(odd).row(0)))
    assert row["rate_ratio_adjusted"] == "" and row["e_value"] == ""
    # The raw values never appear.
    assert not {"-0.0551", "-8.8817", "5.4729", "5.47", "-8.88"} & set(small.values())


def test_publish_balance_all_settings():
    bal = pl.DataFrame({
        "setting": ["primary", "primary", "caliper 0.1 SD, 1:1, without replacement",
                    "caliper 0.5 SD, 5:1, with replacement"],
        "cohort": ["12m", "6m", "12m", "12m"], "covariate": ["age"] * 4,
        "smd_before": [0.3149, 0.6789, 0.3149, 0.3149], "smd_after": [-0.0351, 0.02, 0.07, 0.05],
        "variance_ratio_after": [1.0449, 0.9, None, 1.1],
    })
    out = dc.publish_balance_all_settings(bal, _effects_all())
    assert out.rows() == [
        ("primary", "12m", "age", "0.31", "-0.04", "1.04"),
        ("primary", "6m", "age", "*", "*", "*"),                    # 6 matched
        ("caliper 0.1 SD, 1:1, without replacement", "12m", "age", "", "", ""),  # no controls
        ("caliper 0.5 SD, 5:1, with replacement", "12m", "age", "*", "*", "*"),  # size unknown
    ]
    assert dc.publish_balance_all_settings(bal, None)["smd_after"].to_list() == ["*"] * 4
    # A difference over a zero SD is infinite (cobalt): shown as such, never as balanced.
    inf = bal.head(1).with_columns(pl.lit(float("-inf")).alias("smd_before"),
                                   pl.lit(float("inf")).alias("smd_after"))
    assert dc.publish_balance_all_settings(inf, _effects_all()).row(0)[3:5] == ("-\u221e", "\u221e")


@pytest.mark.parametrize(
    ("values", "shown"),
    [(["0.04", "-0.09", "0.05"], "0.09"), (["-0.12", ""], "0.12"), (["0.04", "*"], "*"),
     (["", ""], ""), ([], ""), (["0.00", "-0.00"], "0.00"), (["0.04", "-\u221e"], "\u221e")],
)
def test_publish_max_abs(values, shown):
    assert dc.publish_max_abs(values) == shown


def test_publish_unmatched_treated():
    df = pl.DataFrame({
        "setting": ["primary"] * 5 + ["other"],
        "cohort": ["12m", "12m", "12m", "6m", "6m", "12m"],
        "reason": ["candidates used up", "no candidates in stratum", "no candidate within caliper",
                   "no candidate within caliper", "no candidate within caliper",
                   "no candidates in stratum"],
        "n": [2, 3, 7, 400, 31, 0],
    })
    out = dc.publish_unmatched_treated(df)
    assert out.columns == dc.UNMATCHED_COLUMNS
    assert out.rows() == [
        ("primary", "12m", "no candidates in stratum", "*"),
        ("primary", "12m", "no candidate within caliper", "*"),
        ("primary", "12m", "candidates used up", "*"),
        ("primary", "12m", "total", "10"),             # 12 from the unrounded counts
        ("primary", "6m", "no candidate within caliper", "430"),  # repeated rows summed: 431
        ("primary", "6m", "total", "430"),
        ("other", "12m", "no candidates in stratum", "0"),
        ("other", "12m", "total", "0"),
    ]
    assert dc.publish_unmatched_treated(pl.DataFrame()).height == 0
