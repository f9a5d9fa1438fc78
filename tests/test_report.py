"""The publishable report: renders, is disclosure-controlled and is reproducible."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from speval.report import flow
from speval.report.render import build_context, render_html
from speval.report.sections.matched import adjusted_agreement, interpret_matched
from speval.report.templating import sentence

pytestmark = [pytest.mark.pipeline, pytest.mark.skipif(  # renders PDFs: not in `make test-fast`
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) not installed",
)]

# A value planted in a disclosive cell: the funded 12 month group has 5 patients, so
# its mean must never appear in the report.
PLANTED_MEAN = 3.1416
PLANTED_WB_MEAN = 4.2718  # well-being mean over 6 people (followup_n 1-7)

MEASURES = ["inpatient_admissions", "emergency_admissions", "ae_attendances",
            "outpatient_appointments"]
WB_MEASURES = ["feeling_positive", "lifestyle", "looking_after_yourself",
               "managing_symptoms", "work_volunteering_social", "money",
               "where_you_live", "family_friends"]


def hospital_use_fixture() -> pl.DataFrame:
    rows = []
    groups = {
        ("12m", "all"): 108,
        ("12m", "funded"): 5,      # disclosive: 1-7 patients
        ("6m", "all"): 451,
        ("6m", "funded"): 123,
    }
    before = {"inpatient_admissions": 1.4630, "emergency_admissions": 0.9815,
              "ae_attendances": 1.9352, "outpatient_appointments": 1.7037}
    for (cohort, group), n in groups.items():
        scale = 1.0 if cohort == "12m" else 0.4
        for i, m in enumerate(MEASURES):
            b = before[m] * scale * (1.05 if group == "funded" else 1.0)
            a = b * (0.79 - 0.02 * i)
            if (cohort, group) == ("12m", "funded") and m == "inpatient_admissions":
                b, a = PLANTED_MEAN, PLANTED_MEAN / 2
            rows.append({"cohort": cohort, "group": group, "measure": m, "n_patients": n,
                         "mean_before": b, "mean_after": a, "change": a - b,
                         "pct_change": 100 * (a - b) / b})
    return pl.DataFrame(rows)


def wellbeing_fixture() -> pl.DataFrame:
    rows = []
    for i, m in enumerate(WB_MEASURES):
        fn = 6 if m == "money" else 280  # money: follow-up group of 6 -> suppressed
        rows.append({
            "measure": m, "baseline_n": 819, "baseline_mean": 3.08 + 0.1 * i,
            "baseline_low_pct": 30.0 - 2.5 * i,
            "followup_n": fn,
            "followup_mean": PLANTED_WB_MEAN if m == "money" else 3.62 + 0.05 * i,
            "progress_pct": 35.0 - i, "progress_low_pct": 61.0 + i,
        })
    return pl.DataFrame(rows)


def attrition_fixture() -> pl.DataFrame:
    steps = ["referred", "linked", "pre_window_covered", "post_window_covered", "alive",
             "registered"]
    ns = {"12m": [912, 880, 870, 120, 112, 108], "6m": [912, 880, 875, 470, 458, 451]}
    return pl.DataFrame([{"cohort": c, "step": s, "n": n}
                         for c, v in ns.items() for s, n in zip(steps, v)])


def reconciliation_fixture() -> pl.DataFrame:
    files = [("hes", "hes/2013Q4/persons.csv", 5003, 4993, 4, 6),
             ("hes", "hes/2013Q4/apc.csv", 20000, 19950, 50, 0),
             ("hes", "hes/2013Q4/ae.csv", 15000, 15000, 0, 0),
             ("hes", "hes/2013Q4/op.csv", 32412, 32400, 12, 0),
             ("outcome_tool", "outcome_tool/2013Q4/referrals.csv", 1000, 998, 2, 0),
             ("outcome_tool", "outcome_tool/2013Q4/assessments.csv", 2500, 2490, 10, 0),
             ("provider_returns", "provider_returns/2013Q3/P001.xlsx#Activity", 40, 39, 1, 0)]
    return pl.DataFrame([dict(zip(["source", "file", "rows_read", "rows_accepted",
                                   "rows_quarantined", "rows_duplicate"], f)) for f in files])


def quarantine_fixture() -> pl.DataFrame:
    rows = []
    for i in range(50):
        rows.append({"source": "hes", "file": "hes/2013Q4/apc.csv", "row_number": 10 + i,
                     "reason": "ADMIDATE is not a valid date" if i < 45 else "unknown TOKEN_PERSON_ID"})
    for i in range(4):
        rows.append({"source": "hes", "file": "hes/2013Q4/persons.csv", "row_number": 2 + i,
                     "reason": "duplicate key with different values"})
    rows.append({"source": "provider_returns", "file": "provider_returns/2013Q3/P001.xlsx#Activity",
                 "row_number": 31, "reason": "total row"})
    return pl.DataFrame(rows)


# HES data quality of delivery 2013Q4 against 2013Q3. Planted raw counts (never shown) and
# what the report must show instead.
PLANTED_DQ = {"32412": "32410", "3907": "3905", "2383": "2385", "4993": "4995"}


def hes_file_quality_fixture() -> pl.DataFrame:
    cols = ["delivery", "file", "rows_read", "rows_accepted", "rows_duplicate",
            "rows_conflicting_key", "rows_quarantined_other", "date_column", "first_date",
            "last_date", "previous_delivery", "records_revised", "records_withdrawn",
            "records_new"]
    rows = [
        ("2013Q4", "hes/2013Q4/apc.csv", 20000, 19950, 0, 0, 50, "ADMIDATE",
         "2011-04-01", "2013-12-30", "2013Q3", 41, 6, 2383),
        ("2013Q4", "hes/2013Q4/ae.csv", 15000, 15000, 0, 0, 0, "ARRIVALDATE",
         "2011-04-02", "2013-12-31", "2013Q3", 0, 0, 1741),
        ("2013Q4", "hes/2013Q4/op.csv", 32412, 32400, 0, 2, 10, "APPTDATE",
         "2011-04-04", "2013-12-20", "2013Q3", 128, 9, 3907),
        ("2013Q4", "hes/2013Q4/persons.csv", 5003, 4993, 6, 4, 0, "REGISTERED_FROM",
         "1998-04-01", "2013-11-28", "2013Q3", 17, 3, 212),
    ]
    df = pl.DataFrame([dict(zip(cols, r)) for r in rows])
    return df.with_columns(pl.col("first_date", "last_date").str.to_date())


def hes_missingness_fixture() -> pl.DataFrame:
    rows = [  # file, column, rows read, rows missing
        ("hes/2013Q4/persons.csv", "YEAR_OF_BIRTH", 5003, 0),
        ("hes/2013Q4/persons.csv", "LSOA11", 5003, 3),            # 0.06% -> 0.1
        ("hes/2013Q4/persons.csv", "IMD_DECILE", 5003, 1),        # 0.02% -> <0.1
        ("hes/2013Q4/persons.csv", "REGISTERED_TO", 5003, 4100),  # 81.95% -> 82.0
        ("hes/2013Q4/persons.csv", "DATE_OF_DEATH", 5003, 4871),  # 97.36% -> 97.4
        ("hes/2013Q4/apc.csv", "DISDATE", 20000, 812),            # 4.06% -> 4.1
        ("hes/2013Q4/apc.csv", "DIAG_4_01", 20000, 27),           # 0.135% -> 0.1
        ("hes/2013Q4/apc.csv", "EPIKEY", 20000, 0),
        ("hes/2013Q4/ae.csv", "AEARRIVALMODE", 15000, 15000),     # 100.0
        ("hes/2013Q4/op.csv", "TRETSPEF", 32412, 0),
    ]
    return pl.DataFrame([{"file": f, "column_name": c, "rows_read": n, "rows_missing": m,
                          "pct_missing": 100 * m / n} for f, c, n, m in rows])


# ----------------------------------------------------------------------- matched comparison
#
# Primary setting: caliper 0.2 SD, 1:1, without replacement. The 12 month cohort has 96 of its
# 108 referred patients matched (published 95); the 6 month cohort only 6 (suppressed: every
# estimate and its whole balance table must be withheld). Planted raw values never appear.

COVARIATES = ["age", "female", "imd_decile", "ltc_count", "risk_score",
              *[f"{m}_{w}m" for w in (12, 6) for m in ("emergency_admissions",
                                                       "inpatient_admissions",
                                                       "ae_attendances",
                                                       "outpatient_appointments")]]
# Covariates added with ADR 0017 (listed last here; the report puts them in its own order).
NEW_COVARIATES = ["outpatient_appointments_3m", "any_covariate_imputed", "emergency_admissions_3m",
                  "inpatient_admissions_3m", "ae_attendances_3m"]
GRID = [(c, k, r) for c in (0.1, 0.2, 0.5) for k in (1, 3, 5) for r in (False, True)]
PRIMARY = (0.2, 1, False)

# 12 month cohort, primary: (did, ci low, ci high, rate ratio, rr low, rr high) per measure.
PRIMARY_12M = {
    "inpatient_admissions": (-0.0512, -0.2049, 0.1013, 0.9611, 0.8402, 1.0914),
    "emergency_admissions": (-0.0843, -0.2116, 0.0391, 0.8862, 0.7311, 1.0693),
    "ae_attendances": (-0.3127, -0.5012, -0.1304, 0.8103, 0.7055, 0.9171),
    "outpatient_appointments": (0.0412, -0.1517, 0.2323, 1.0248, 0.9113, 1.1402),
}
NAIVE_BEFORE = {"inpatient_admissions": 1.4630, "emergency_admissions": 0.9815,
                "ae_attendances": 1.9352, "outpatient_appointments": 1.7037}
# 12 month cohort, primary: the doubly robust estimate (did_adjusted, ci low, ci high) and the rate ratio it
# implies (with its interval), per measure; E-values of the rate ratio and of its interval.
ADJUSTED_12M = {
    "inpatient_admissions": (-0.0433, -0.1871, 0.1002, 0.9621, 0.8477, 1.0926),
    "emergency_admissions": (-0.0612, -0.1934, 0.0705, 0.9173, 0.7702, 1.1041),
    "ae_attendances": (-0.2719, -0.4436, -0.1012, 0.8374, 0.7411, 0.9383),
    "outpatient_appointments": (0.0377, -0.1392, 0.2148, 1.0226, 0.9201, 1.1349),
}
E_VALUES_12M = {"inpatient_admissions": (1.2457, 1.0), "emergency_admissions": (1.5091, 1.0),
                "ae_attendances": (1.7716, 1.4043), "outpatient_appointments": (1.1842, 1.0)}
PLANTED_6M = {"treated_before": 6.5432, "did": -7.7777, "smd_before": 0.6789, "n": 6,
              "did_adjusted": -8.8817, "e_value": 5.4729}
PLANTED_MATCHED_RAW = ["0.0843", "0.2116", "0.0391", "0.8862", "0.3149", "0.0861", "6.54",
                       "7.78", "0.6789", "6.5432", "9.12", "6.43", "5.10", "6.35",
                       "0.0612", "0.1934", "8.88", "5.47", "1.5091"]


def setting_name(c: float, k: int, r: bool) -> str:
    return "primary" if (c, k, r) == PRIMARY else \
        f"caliper {c:g} SD, {k}:1, {'with' if r else 'without'} replacement"


def _sensitivity_n(cohort: str, setting: tuple) -> tuple[int, int]:
    """(n_treated, n_controls) per setting: wider calipers and replacement match more."""
    c, k, r = setting
    if setting == PRIMARY:
        return (96, 96) if cohort == "12m" else (PLANTED_6M["n"], PLANTED_6M["n"])
    base = {0.1: 84, 0.2: 96, 0.5: 104}[c] - (k - 1) * 2 + (3 if r else 0)
    if cohort == "6m":
        return (5, 5) if (c, k) == (0.1, 5) else (base * 4 + 11, base * 4 * (k if not r else 1) + 3)
    return base, base * k - (7 * k if r else 0)


def matched_effects_all_fixture() -> pl.DataFrame:
    rows = []
    for i, setting in enumerate(GRID):
        for cohort in ("12m", "6m"):
            nt, nc = _sensitivity_n(cohort, setting)
            for j, m in enumerate(MEASURES):
                if setting == PRIMARY and cohort == "12m":
                    did, lo, hi, rr, rlo, rhi = PRIMARY_12M[m]
                elif setting == PRIMARY:
                    did, lo, hi, rr, rlo, rhi = (PLANTED_6M["did"], -9.1234, -6.4321, 0.1357,
                                                 0.1111, 0.2222)
                else:
                    did = PRIMARY_12M[m][0] * (1 + 0.05 * (i - 8)) * (0.6 if cohort == "6m" else 1)
                    lo, hi = did - 0.1311, did + 0.1247
                    rr, rlo, rhi = 1 + did / 2, 1 + lo / 2, 1 + hi / 2
                tb = NAIVE_BEFORE[m] * (1 if cohort == "12m" else 0.4)
                if setting == PRIMARY and cohort == "6m":
                    tb = PLANTED_6M["treated_before"]
                # The doubly robust estimate: primary setting only; E-values for every setting.
                adjusted: tuple = (None,) * 6
                far = max(rr, 1 / rr)
                ev, ev_ci = round(far + (far * (far - 1)) ** 0.5, 4), 1.0
                if setting == PRIMARY and cohort == "12m":
                    adjusted = ADJUSTED_12M[m]
                    ev, ev_ci = E_VALUES_12M[m]
                elif setting == PRIMARY:
                    adjusted = (PLANTED_6M["did_adjusted"], -9.9876, -7.6543, 0.1234, 0.1011, 0.1999)
                    ev, ev_ci = PLANTED_6M["e_value"], 4.9876
                rows.append({
                    "setting": setting_name(*setting), "cohort": cohort, "measure": m,
                    "n_treated": nt, "n_controls": nc,
                    "treated_before": tb, "treated_after": tb * 0.78,
                    "control_before": tb * 0.97, "control_after": tb * 0.97 * 0.78 - did,
                    "did": did, "did_ci_low": lo, "did_ci_high": hi,
                    "rate_ratio": rr, "rr_ci_low": rlo, "rr_ci_high": rhi,
                    **dict(zip(ADJUSTED_COLUMNS, adjusted)), "e_value": ev, "e_value_ci": ev_ci})
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in ADJUSTED_COLUMNS})


ADJUSTED_COLUMNS = ["did_adjusted", "did_adjusted_ci_low", "did_adjusted_ci_high",
                    "rate_ratio_adjusted", "rr_adjusted_ci_low", "rr_adjusted_ci_high"]


def balance_all_fixture() -> pl.DataFrame:
    rows = []
    for i, setting in enumerate(GRID):
        for cohort in ("12m", "6m"):
            for j, cov in enumerate(COVARIATES + NEW_COVARIATES):
                before = 0.1 + 0.06 * j if cohort == "12m" else 0.08 + 0.05 * j
                after = 0.01 + 0.005 * j + 0.004 * i
                if cov in NEW_COVARIATES:
                    before, after = 0.2 + 0.01 * j, 0.02 + 0.001 * j
                if setting == PRIMARY and cohort == "12m":
                    before = 0.3149 if cov == "age" else before
                    after = 0.0861 if cov == "emergency_admissions_12m" else 0.0351 + 0.002 * j
                if setting == PRIMARY and cohort == "6m" and cov == "age":
                    before = PLANTED_6M["smd_before"]
                if cov in ("female", "ltc_count"):
                    before, after = -before, -after
                rows.append({"setting": setting_name(*setting), "cohort": cohort,
                             "covariate": cov, "smd_before": before, "smd_after": after,
                             "variance_ratio_after": 1.02 + 0.01 * j})
    return pl.DataFrame(rows)


def unmatched_fixture() -> pl.DataFrame:
    rows = []
    for setting in GRID:
        for cohort, total in (("12m", 108), ("6m", 451)):
            n_matched = _sensitivity_n(cohort, setting)[0]
            left = total - n_matched
            split = {"12m": [3, 7], "6m": [12, 2]}[cohort] if setting == PRIMARY else [1, 0]
            parts = [split[0], left - split[0] - split[1], split[1]]
            for reason, n in zip(["no candidates in stratum", "no candidate within caliper",
                                  "candidates used up"], parts):
                if n > 0:
                    rows.append({"setting": setting_name(*setting), "cohort": cohort,
                                 "reason": reason, "n": n})
    return pl.DataFrame(rows)


def matching_tables() -> dict[str, pl.DataFrame]:
    me_all = matched_effects_all_fixture()
    bal_all = balance_all_fixture()
    return {
        "matched_effects": me_all.filter(pl.col("setting") == "primary").select(
            "cohort", "measure", "n_treated", "n_controls", "treated_before", "treated_after",
            "control_before", "control_after", "did", "did_ci_low", "did_ci_high"),
        "balance": bal_all.filter(pl.col("setting") == "primary").select(
            "cohort", "covariate", "smd_before", "smd_after"),
        "matched_effects_all_settings": me_all,
        "balance_all_settings": bal_all,
        "unmatched_treated": unmatched_fixture(),
        "matching_settings": pl.DataFrame([  # each setting's method as typed columns, primary first
            {"setting": setting_name(*s), "caliper": s[0], "ratio": s[1], "with_replacement": s[2],
             "is_primary": s == PRIMARY} for s in [PRIMARY] + [g for g in GRID if g != PRIMARY]]),
    }


# ----------------------------------------------------------------------- value for money and social value
#
# The 12 month cohort costed: its naive change (108 patients) and its primary matched DiD (96 matched), priced at
# 2013/14 unit costs. Matched savings follow PRIMARY_12M (events avoided = -DiD; other admissions = in-patient minus
# emergency). The returns are worked with the pipeline's scenario arithmetic, so the tornado's value used equals the
# table's. Welfare: 3 awards (must show as *). Planted raw values never appear.

UNIT_COSTS = {"emergency_admissions": 1527.935825, "other_admissions": 1264.073801, "ae_attendances": 114.0,
              "outpatient_appointments": 115.315911}
NAIVE_EVENTS = {"emergency_admissions": 0.38255, "other_admissions": 0.060403, "ae_attendances": 0.483221,
                "outpatient_appointments": 0.09396}
MATCHED_EVENTS = {"emergency_admissions": 0.0843, "other_admissions": -(-0.0512 + 0.0843),
                  "ae_attendances": 0.3127, "outpatient_appointments": -0.0412}
MATCHED_SAVING_CI = {"emergency_admissions": (-187.1234, 323.4567), "other_admissions": (-164.5028, 93.7671),
                     "ae_attendances": (14.8654, 57.1237), "outpatient_appointments": (-26.1419, 17.5381),
                     "total": (-95.1234, 341.5678)}
REFERRED, REFERRED_LAST_YEAR, COST_TO_DATE, ANNUAL_COST = 1251, 1091, 956557.75, 573769.0
PROB_ROI_AT_LEAST_1 = {"to_date": 0.0123, "drop_off_0": 0.5432, "drop_off_20": 0.4012, "drop_off_33": 0.3141}
WELFARE_AWARDS = 3
PLANTED_ECONOMICS_RAW = ["1251", "1091", "20214", "0.38255", "0.5432", "117.87", "1,251", "1,091"]


def _costs_avoided_fixture() -> tuple[pl.DataFrame, dict[str, float]]:
    rows, totals = [], {}
    for basis, events in (("naive", NAIVE_EVENTS), ("matched", MATCHED_EVENTS)):
        total = 0.0
        for item, e in events.items():
            saving = e * UNIT_COSTS[item]
            total += saving
            lo, hi = MATCHED_SAVING_CI[item] if basis == "matched" else (None, None)
            rows.append({"basis": basis, "cohort": "12m", "item": item, "events_avoided_per_patient": e,
                         "unit_cost_gbp": UNIT_COSTS[item], "saving_per_patient_gbp": saving,
                         "saving_ci_low_gbp": lo, "saving_ci_high_gbp": hi})
        lo, hi = MATCHED_SAVING_CI["total"] if basis == "matched" else (None, None)
        rows.append({"basis": basis, "cohort": "12m", "item": "total", "events_avoided_per_patient": None,
                     "unit_cost_gbp": None, "saving_per_patient_gbp": total, "saving_ci_low_gbp": lo,
                     "saving_ci_high_gbp": hi})
        totals[basis] = total
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in (
        "events_avoided_per_patient", "unit_cost_gbp", "saving_ci_low_gbp", "saving_ci_high_gbp")}), totals


def _value_for_money_fixture(totals: dict[str, float]) -> pl.DataFrame:
    from speval.economics.scenarios import DISCOUNT_RATE, YEARS, payback_months, projected_benefit
    from speval.run.vocabulary import VALUE_SCENARIOS

    rows = []
    for basis, saving in totals.items():
        for s in VALUE_SCENARIOS:
            if s.drop_off is None:
                people, cost, rate, project = REFERRED, COST_TO_DATE, 0.0, (lambda b: b)
            else:
                people, cost, rate = REFERRED_LAST_YEAR, ANNUAL_COST, DISCOUNT_RATE
                project = (lambda b, d=s.drop_off: projected_benefit(b, d, YEARS, DISCOUNT_RATE))
            benefit = project(saving * people)
            row = {"basis": basis, "scenario": s.code, "years": s.years, "discount_rate": rate,
                   "benefit_gbp": benefit, "cost_gbp": cost, "roi": benefit / cost, "roi_ci_low": None,
                   "roi_ci_high": None, "prob_roi_at_least_1": None,
                   "payback_months": (None if s.drop_off is None
                                      else payback_months(saving * people, cost, s.drop_off))}
            if basis == "matched":
                lo, hi = MATCHED_SAVING_CI["total"]
                row.update(roi_ci_low=project(lo * people) / cost, roi_ci_high=project(hi * people) / cost,
                           prob_roi_at_least_1=PROB_ROI_AT_LEAST_1[s.code])
            rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"roi_ci_low": pl.Float64, "roi_ci_high": pl.Float64,
                                                "prob_roi_at_least_1": pl.Float64, "payback_months": pl.Int64})


ADJUSTMENTS = {"wellbeing": (0.25, 0.25, 0.0), "volunteering": (0.1, 0.0, 0.0), "welfare": (0.2, 0.1, 0.0),
               "leverage": (0.25, 0.0, 0.25)}


def _sroi_fixture() -> pl.DataFrame:
    before = {"wellbeing": (316.0, "measure progressions", 577800.0, 655350.0),
              "volunteering": (20214.2, "hours", 125316.528, 230584.84),
              "welfare": (float(WELFARE_AWARDS), "awards", 6543.21, 6543.21),
              "leverage": (24.0, "funding awards", 338150.0, 338150.0)}
    rows = []
    for i, (c, (q, unit, low, high)) in enumerate(before.items(), start=1):
        kept = 1.0
        for a in ADJUSTMENTS[c]:
            kept *= 1 - a
        rows.append({"component": c, "quantity": q, "unit": unit, "value_low_gbp": low * kept,
                     "value_high_gbp": high * kept, "source": "fixture", "component_order": i})
    low, high = sum(r["value_low_gbp"] for r in rows), sum(r["value_high_gbp"] for r in rows)
    rows.append({"component": "total", "quantity": None, "unit": None, "value_low_gbp": low, "value_high_gbp": high,
                 "source": "sum of the components", "component_order": 5})
    df = pl.DataFrame(rows, schema_overrides={"quantity": pl.Float64, "unit": pl.String})
    return df.with_columns((pl.col("value_low_gbp") / COST_TO_DATE).alias("per_pound_low"),
                           (pl.col("value_high_gbp") / COST_TO_DATE).alias("per_pound_high")).select(
        "component", "quantity", "unit", "value_low_gbp", "value_high_gbp", "per_pound_low", "per_pound_high",
        "source")


def _reference_rows(rows: list[dict], status: str = "published", source: str = "A source",
                    licence: str = "Open Government Licence v3.0") -> list[dict]:
    return [{"status": status, "source": source, "licence": licence, **r} for r in rows]


def economics_tables() -> dict[str, pl.DataFrame]:
    import datetime as dt

    costs, totals = _costs_avoided_fixture()
    inputs = pl.DataFrame([{"basis": b, "saving_per_patient_gbp": t, "referred_to_date": REFERRED,
                            "referred_last_year": REFERRED_LAST_YEAR, "annual_benefit_gbp": t * REFERRED_LAST_YEAR,
                            "cost_to_date_gbp": COST_TO_DATE, "annual_cost_gbp": ANNUAL_COST, "price_year": "2013/14"}
                           for b, t in totals.items()])
    unit = pl.DataFrame([
        {"item": item, "price_year": "2013/14", "cost_year": "2013/14" if item == "ae_attendances" else "2016/17",
         "cost_as_published_gbp": cost * (1 if item == "ae_attendances" else 302.3 / 290.5), "unit_cost_gbp": cost,
         "status": "derived" if item == "other_admissions" else "published",
         "source": "NHS reference costs" if item != "ae_attendances" else "NICE NG94",
         "licence": "Open Government Licence v3.0"} for item, cost in UNIT_COSTS.items()])
    adjustments = [{"component": c, "adjustment": a, "value": v} for c, values in ADJUSTMENTS.items()
                   for a, v in zip(("deadweight", "attribution", "displacement"), values)]
    return {
        "costs_avoided": costs,
        "value_for_money": _value_for_money_fixture(totals),
        "value_inputs": inputs,
        "sroi": _sroi_fixture(),
        "wellbeing_progress": pl.DataFrame({"measures_progressed": ["at_least_1", "at_least_4"],
                                            "n_followup": [144, 144], "n": [134, 19], "pct": [93.06, 13.19]}),
        "programme_cost": pl.DataFrame([{"programme": "LTC", "financial_year": "2013/14",
                                         "cost_to_date_gbp": COST_TO_DATE, "annual_cost_gbp": ANNUAL_COST,
                                         "years_without_cost": None, "status": "derived"}],
                                       schema_overrides={"years_without_cost": pl.String}),
        "provider_shares": pl.DataFrame({"provider_code": ["VCS01", "VCS02", "VCS09"], "share": [1.0, 0.8, None]}),
        "volunteering_summary": pl.DataFrame({"first_month": [dt.date(2012, 7, 1)], "last_month": [dt.date(2013, 12, 1)],
                                              "programme_hours": [20214.2]}),
        "welfare_summary": pl.DataFrame({"awards": [WELFARE_AWARDS], "annual_value_gbp": [8178.01]}),
        "leverage_summary": pl.DataFrame({"awards": [24.0], "amount_gbp": [338150.0]}),
        "reference_unit_costs": unit,
        "reference_price_index": pl.DataFrame(_reference_rows(
            [{"financial_year": "2013/14", "index_value": 290.5, "index_name": "HCHS pay and prices index"},
             {"financial_year": "2016/17", "index_value": 302.3, "index_name": "HCHS pay and prices index"}],
            "illustrative", "PSSRU Unit Costs", "PSSRU copyright")),
        "reference_programme_costs": pl.DataFrame(_reference_rows(
            [{"programme": "LTC", "financial_year": "2012/13", "cost_gbp": 526231.0},
             {"programme": "LTC", "financial_year": "2013/14", "cost_gbp": 573769.0}], "derived", "CRESR 2014")),
        "reference_wages": pl.DataFrame(_reference_rows(
            [{"wage": "national_minimum_wage", "valid_from": dt.date(2012, 10, 1), "valid_to": dt.date(2013, 9, 30),
              "hourly_gbp": 6.19},
             {"wage": "median_hourly_pay", "valid_from": dt.date(2013, 4, 1), "valid_to": dt.date(2014, 3, 31),
              "hourly_gbp": 11.5}], "published", "Statutory rates")).with_columns(
            pl.when(pl.col("wage") == "median_hourly_pay").then(pl.lit("illustrative")).otherwise("status")
            .alias("status")),
        "reference_wellbeing_proxies": pl.DataFrame(_reference_rows(
            [{"measure": m, "basis": "hact_wellbeing_valuation", "value_low_gbp": 1300.0 + 100 * i,
              "value_high_gbp": 1450.0 + 150 * i} for i, m in enumerate(WB_MEASURES)],
            "illustrative", "Illustrative project value", "Project illustrative value")),
        "reference_sroi_adjustments": pl.DataFrame(_reference_rows(
            adjustments, "illustrative", "A guide to Social Return on Investment", "Project assumption")),
    }


def fixture_tables(matching: bool = True, economics: bool = True) -> dict[str, pl.DataFrame]:
    # The paired change per measure (report-only wellbeing_paired_change), over the referrals with both scores of
    # Table 2 (its followup_n and followup_mean; money's 6 referrals and its means planted, never to be shown) and
    # over those with a low baseline (money: 3). (measure -> mean change; all, then low baseline.)
    change_all = dict(zip(WB_MEASURES, (0.32, 0.25, 0.18, 0.12, 0.04, 0.8151, -0.15, 0.21)))
    change_low = dict(zip(WB_MEASURES, (0.95, 0.85, 0.80, 0.70, 0.60, 1.2345, 0.45, 0.15)))
    paired_change = pl.DataFrame([
        {"measure": r["measure"], "group": group, "n": n, "baseline_mean": after - change, "followup_mean": after,
         "mean_change": change, "sd_change": sd}
        for r in wellbeing_fixture().to_dicts()
        for group, n, after, change, sd in (
            ("all", r["followup_n"], r["followup_mean"], change_all[r["measure"]], 0.9),
            ("low_baseline", 3 if r["measure"] == "money" else 84, 1.62 + change_low[r["measure"]],
             change_low[r["measure"]], 1.1))])
    return {
        "attrition": attrition_fixture(),
        "hospital_use": hospital_use_fixture(),
        "wellbeing": wellbeing_fixture(),
        "wellbeing_paired_change": paired_change,
        "reconciliation": reconciliation_fixture(),
        "quarantine": quarantine_fixture(),
        "hes_file_quality": hes_file_quality_fixture(),
        "hes_missingness": hes_missingness_fixture(),
        **(matching_tables() if matching else {}),
        **(economics_tables() if economics else {}),
    }


def fixture_meta() -> dict:
    return {
        "programme": "LTC",
        "programme_name": "Long-term conditions",
        "quarter": "2013Q4",
        "quarter_end": "2013-12-31",
        "deliveries": {
            "hes": {"key": "2013Q4", "coverage_start": "2011-04-01", "cutoff": "2013-12-31",
                    "extracted_on": "2014-01-17"},
            "outcome_tool": {"key": "2013Q4"},
            "provider_returns": ["2012Q3", "2012Q4", "2013Q1", "2013Q2", "2013Q3", "2013Q4"],
            "previous_hes": "2013Q3",
        },
        "code_version": "3f2a9c1d0b7e6f5a4c3b2a19087f6e5d4c3b2a10",
        "parameters": {"followup_min_days": 84, "followup_max_days": 140, "cohort_months": [6, 12],
                       "low_score_max": 2, "matching_caliper_sd": 0.2, "matching_ratio": 1,
                       "matching_with_replacement": False, "bootstrap_replicates": 1000,
                       "seed": 42},
        "input_files": [
            {"file": "hes/2013Q4/persons.csv", "sha256": "a" * 64},
            {"file": "hes/2013Q4/apc.csv", "sha256": "b" * 64},
            {"file": "outcome_tool/2013Q4/referrals.csv", "sha256": "c" * 64},
        ],
    }


def with_separators(number: str) -> str:
    """A whole number as the report prints it: ``32412`` -> ``32,412`` (other text unchanged)."""
    return f"{int(number):,}" if number.isdigit() else number


def pdftotext(pdf: Path, layout: bool = True) -> str:
    args = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


class _ReportText(HTMLParser):
    """The visible text of the report's HTML laid out as `pdftotext` lays out the PDF's: a block or a table row a
    line, cells apart, a row heading's aside (a block: its second line) after the row, a heading's number apart
    from its title (CSS spaces them), the charts' labels, and a form feed after the title page and after the
    contents (`section_text` skips both pages). Not as in the PDF: what CSS adds or changes (running headers and
    footers, the contents' page numbers, the colon after an appendix's letter, capitals), the other page breaks,
    and where a cell's text wraps: tests of those read `fixture_report`'s PDF."""

    BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "li", "tr", "table", "section", "nav",
              "caption", "figure", "figcaption", "text"}  # text: an SVG label
    VOID = {"br", "col", "meta"}  # those the report has
    HIDDEN = {"head", "style", "script", "title"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, list[str]]] = []  # the elements the parser is in, with their classes
        self.lines: list[str] = []
        self.line: list[str] = []
        self.after_row: list[str] = []

    def end_line(self) -> None:
        self.lines.append(" ".join("".join(self.line).split()))
        self.line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.end_line()
        if tag in self.VOID:
            return
        self.open.append((tag, (dict(attrs).get("class") or "").split()))
        if tag in self.BLOCKS:
            self.end_line()
        elif tag in ("td", "th"):
            self.line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag not in (t for t, _ in self.open):
            return
        while True:
            closed, classes = self.open.pop()
            if closed == tag:
                break
        if tag == "tr":
            self.line += [" ", *self.after_row]
            self.after_row = []
        if tag in self.BLOCKS:
            self.end_line()
        if {"num", "toc-num"} & set(classes):
            self.line.append(" ")
        if "title-page" in classes or (tag == "nav" and "toc" in classes):
            self.lines.append("\f")

    def handle_data(self, data: str) -> None:
        tags = {t for t, _ in self.open}
        if tags & self.HIDDEN or ("svg" in tags and "text" not in tags):
            return
        aside = "th" in tags and any("aside" in classes for _, classes in self.open)
        (self.after_row if aside else self.line).append(data)


def html_text(html: str) -> str:
    """The report's text, much as `pdftotext` reads its PDF, from the HTML the PDF is rendered from: what a
    variant of the report says is tested without rendering its PDF (seconds each)."""
    parser = _ReportText()
    parser.feed(html)
    parser.close()
    parser.end_line()
    return "\n".join(line for line in parser.lines if line)


def report_text(tables: dict[str, pl.DataFrame], meta: dict) -> str:
    """`html_text` of the report of ``tables`` and ``meta``."""
    return html_text(render_html(build_context(tables, meta)))


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def read_pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary (P5) 8-bit PGM as (width, height, pixels)."""
    data = path.read_bytes()
    tokens, pos = [], 0
    while len(tokens) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        tokens.append(data[pos:end])
        pos = end
    assert tokens[0] == b"P5" and int(tokens[3]) == 255
    w, h = int(tokens[1]), int(tokens[2])
    pixels = data[pos + 1: pos + 1 + w * h]
    assert len(pixels) == w * h
    return w, h, pixels


@pytest.fixture(scope="module")
def rendered(fixture_report) -> dict:
    """The fixture report, rendered once per session (conftest.py)."""
    return {"first": fixture_report}


def test_writes_html_and_pdf(rendered):
    paths = rendered["first"]
    assert set(paths) == {"html", "pdf"}
    assert paths["html"].name == "evaluation_report.html"
    assert paths["pdf"].name == "evaluation_report.pdf"
    assert paths["pdf"].read_bytes().startswith(b"%PDF-")
    assert paths["pdf"].stat().st_size > 10_000


def test_every_page_names_the_deliveries_it_used(rendered):
    pdf = rendered["first"]["pdf"]
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                                            check=True).stdout).group(1))
    for page in range(1, pages + 1):
        text = " ".join(subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                                       capture_output=True, text=True, check=True).stdout.split())
        assert ("HES delivery 2013Q4 (cut-off 31 December 2013) · outcome tool export 2013Q4 · provider returns "
                "2012Q3 to 2013Q4") in text, page


def test_page_one_is_not_blank(rendered, tmp_path):
    pdf = rendered["first"]["pdf"]
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-gray", str(pdf),
                    str(tmp_path / "p")], check=True)
    (pgm,) = list(tmp_path.glob("p*.pgm"))
    _, _, px = read_pgm(pgm)
    mean = sum(px) / len(px)
    var = sum((p - mean) ** 2 for p in px) / len(px)
    assert var > 50, f"page 1 looks blank (variance {var:.1f})"
    assert sum(p < 128 for p in px) > 200  # there is dark ink (text) on the page


def test_text_content(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    flat = " ".join(pdftotext(rendered["first"]["pdf"], layout=False).split())
    for needle in ["Table 1", "Table 2", "Long-term conditions", "LTC", "2013Q4",
                   "Official – disclosure-controlled", "Contents", "Summary",
                   "Hospital use before and after referral", "Well-being",
                   "Who was included", "Caveats", "Data and validation", "Provenance",
                   "All patients referred", "Patients referred to a funded provider",
                   "Feeling positive", "Work, volunteering and social groups",
                   "Figure 1", "Regression to the mean", "Figure 2", "Figure 3",
                   "Cohort flow", "HES data quality", "Comparison with a matched group",
                   "Value for money and social value", "Figure 4", "Figure 5", "Table 10"]:
        assert needle in flat, needle
    assert re.search(r"Page 3 of \d+", flat)
    # HES delivery and cut-off on the title page.
    first_page = text.split("\f")[0]
    assert "HES delivery 2013Q4" in first_page and "31 December 2013" in first_page


def test_disclosive_values_never_published(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    # Chart geometry (path coordinates) is not text; keep only the SVG's visible text.
    svg_text = " ".join(re.findall(r"<text\b[^>]*>([^<]*)</text>", html))
    html = re.sub(r"<svg\b.*?</svg>", " ", html, flags=re.S)
    # Appendix A prints the rows of each file exactly (rows of a file are not people: ADR 0003); everywhere else
    # the planted counts are controlled.
    def without_appendix_a(body: str) -> str:
        return re.sub(r"Appendix A: Data and validation.*?Appendix B: HES data quality", " ", body, flags=re.S)

    appendix_a = re.search(r'<section id="appendix-a".*?</section>', html, re.S).group(0)
    html = re.sub(r' (?:id|data-denominator)="sdc-[^"]*"', "", html.replace(appendix_a, " "))  # marks' ids: not text
    for body in (without_appendix_a(text), html, svg_text):
        for raw in ("3.14", "1.57", "4.27", "108", "451", "912", "5003", "4993",
                    *PLANTED_DQ, "4871"):
            # Nor with the thousands separators the report prints (5,003).
            for form in {raw, with_separators(raw)}:
                assert form not in body, form
    # Rounded counts appear instead.
    assert "110 patients" in text and "450 patients" in text
    assert "5,005" in text and "4,995" in text
    assert "<td>5,003</td><td>4,993</td><td>4</td><td>6</td>" in appendix_a
    # The funded 12 month group (5 patients) is suppressed, not shown.
    assert "of whom fewer than 8 were referred to a funded provider" in " ".join(text.split())


def test_reproducible_bytes(rendered):
    """The same tables give the same HTML bytes (here against the session's rendering, perhaps made by another
    test process), and the PDF carries the quarter's end as its dates, not the time it was made. That the same
    HTML gives the same PDF bytes is checked on two whole runs: test_same_inputs_give_identical_tables_and_pdf."""
    a = rendered["first"]
    assert a["html"].read_bytes() == render_html(build_context(fixture_tables(), fixture_meta())).encode("utf-8")
    info = subprocess.run(["pdfinfo", "-isodates", str(a["pdf"])], check=True,
                          capture_output=True, text=True).stdout
    assert re.search(r"^CreationDate:\s+2013-12-31T00:00:00", info, re.M), info
    assert re.search(r"^ModDate:\s+2013-12-31T00:00:00", info, re.M), info


def test_html_is_self_contained(rendered):
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    assert "<svg" in html and "<style>" in html
    assert not re.search(r'<link\b|<script\b|src="http', html)
    assert 'name="dcterms.created" content="2013-12-31' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_page_count(rendered):
    assert page_count(rendered["first"]["pdf"]) >= 4


def test_renders_with_empty_tables():
    tables = {name: df.clear() for name, df in fixture_tables().items()}
    tables["unmatched_treated"] = pl.DataFrame()  # empty without even its columns
    text = report_text(tables, fixture_meta())
    assert "No hospital use figures are available" in text
    assert "No well-being figures are available" in text
    assert "No rows were quarantined" in text
    flat = " ".join(text.split())
    # Matching tables given but empty: the section says so, nothing claims a comparison.
    for needle in ("Comparison with a matched group",
                   "The matched comparison estimates are not available for this quarter",
                   "Balance figures are not available for this quarter",
                   "Figures on referred patients who could not be matched are not available",
                   "The sensitivity analysis is not available for this quarter",
                   "A matched comparison group could not be published",
                   "No comparison group results."):
        assert needle in flat, needle
    assert "Matching uses recorded history only" not in flat
    assert "The cohort flow diagram is not available" in flat
    assert "The HES file summary (rows, dates covered and changes since the previous delivery) " \
           "is not available" in flat
    assert "The missing-value summary is not available" in flat
    # Economics tables given but empty: the section is there, and says what it cannot show.
    value = value_section(text)
    for needle in ("The return on investment against a matched comparison group is not available for this quarter.",
                   "The hospital costs avoided are not available for this quarter.",
                   "The return on investment is not available for this quarter.",
                   "The social return on investment is not available for this quarter.",
                   "The reference values are not available for this quarter."):
        assert needle in value, needle
    assert "£" not in value.replace("£1", "")  # no amount is shown


# ----------------------------------------------------------------------- value for money and social value


def test_value_section_in_the_report(rendered):
    """Section 4: the sentence a commissioner can quote, at the price year, from the matched figures; costs
    avoided, returns, the social return, sensitivity and the reference values, each in its place."""
    text = pdftotext(rendered["first"]["pdf"])
    sec = value_section(text)
    assert ("Against a matched comparison group, each £1 spent on the programme returned £1.05 (95% interval −£0.85 "
            "to £3.04) in avoided hospital costs over five years if the benefits last, at 2013/14 prices; the "
            "before-and-after method, which regression to the mean inflates, would have said £6.46. The 95% interval "
            "includes returns below £1, so the programme may not pay for itself in avoided hospital costs: the return "
            "reached £1 per £1 spent in 54% of bootstrap samples.") in sec
    assert "Money is in pounds at 2013/14 prices" in sec
    # Table 7: per item and in total, naive beside matched with its interval; everyone referred from the rounded count.
    assert "Table 7: Hospital costs avoided per patient in the year after referral, 12 month cohort, at 2013/14 prices" in sec
    assert "Emergency admissions £1,528 0.38 £585 0.08 £129 −£187 to £323" in sec
    assert "Other (elective and day-case) £1,264 0.06 £76 −0.03 −£42 −£165 to £94 admissions" in sec
    assert "Total per patient – – £727 – £118 −£95 to £342" in sec
    assert "Everyone referred by 31 December 2013 £908,485 £147,326 −£118,904 to £426,960 (about 1,250)" in sec
    assert "£908,485" in sec  # 726.79 × 1,250, not × 1,251
    # Table 8 and the chart: every scenario, payback in months.
    assert "Table 8: Return per £1 spent and months to payback, by scenario" in sec
    assert "Five years, benefits sustained £573,769 1.05 −0.85 to 3.04 54 54 6.46 9" in sec
    assert "Figure 3: Return per £1 spent in each scenario" in sec
    # Break-even and the tornado of the matched return.
    assert "stays at or above £1 per £1 (break- even) as long as the total saving is at least £113 per patient" in sec
    assert "Figure 4: The matched return over five years" in sec and "discount rate 1.5%" in sec
    assert "Unit cost, emergency admissions (±25%)" in sec and "Discount rate (1.5% to 5%)" in sec
    # The social return: impact map, ratio per £1, its tornado.
    assert "Table 9: Social return on investment: impact map" in sec
    assert "the social value is £0.66 to £0.81 per £1, resting on illustrative values (Table 10)" in sec
    # 19 of 144 progressed on four or more: 20 of 145 once rounded, so 14% (not 13%).
    assert "Of about 145 referrals with a follow-up review, 93% made progress on at least one measure and 14% made " \
           "progress on four or more measures" in sec
    assert "Figure 5: The social return with one assumption" in sec
    assert "Well-being of referred patients: deadweight (15% to 35%)" in sec
    # Unattributed providers are named by organisation code.
    assert "Not counted: the work of provider VCS09 (organisation code)" in sec
    # Table 10: illustrative rows labelled, sources numbered with their licences.
    assert "Table 10: Reference values used, with their status and source" in sec
    assert "Price index: HCHS pay and prices 290.5, 302.3 2013/14, ILLUSTRATIVE [3]" in sec
    assert "Unit cost: A&E attendances £114 2013/14 published [2]" in sec
    assert "[3] PSSRU Unit Costs. Licence: PSSRU copyright." in sec
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    assert html.count('<tr class="illustrative">') == 4
    # The contents list the section between the matched comparison and well-being; a caveat goes with it.
    assert "Value for money. Savings are hospital events avoided priced at national average unit costs" in \
        section_text(text, "7 Caveats", "Appendix A")


def test_value_section_counts_are_disclosure_controlled(rendered):
    """Welfare awards (3), like any count of 1-7, are shown as *; other counts rounded to 5 with separators;
    raw counts (people referred, hours) never appear."""
    text = pdftotext(rendered["first"]["pdf"])
    sec = value_section(text)
    assert "helped referred patients to fewer than 8 (*) welfare benefit awards worth £8,178 a year" in sec
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    welfare = re.search(r"<tr><th class=\"stub\"><strong>Welfare benefits claimed</strong>.*?</tr>", html, re.S).group(0)
    assert re.search(r'<td><span class="sdc" data-sdc="count" id="sdc-\d+">\*</span><span class="aside">awards</span></td>',
                     welfare)  # a count of people (awards to referred patients): marked for the release check
    assert "Welfare benefits Benefit awards * A year of the award" in sec
    assert "about 20,215 volunteering hours" in sec and '<td>20,215<span class="aside">hours</span></td>' in html
    body = re.sub(r"<svg\b.*?</svg>", " ", html, flags=re.S)
    for doc in (sec, body):
        for raw in PLANTED_ECONOMICS_RAW:
            assert raw not in doc, raw
        assert not re.search(r"\b3 awards\b|\b3 welfare", doc)


def test_value_section_when_economics_tables_are_absent():
    """No economics table at all (a warehouse built before them): no section, no caveat about it; only some:
    what is there is shown, the rest is said to be unavailable."""
    ctx = build_context(fixture_tables(economics=False), fixture_meta())
    assert ctx["value"] is None and "value" not in ctx["num"]
    html = render_html(ctx)
    assert "Value for money and social value" not in html and "Value for money." not in html
    tables = fixture_tables()
    for name in ("costs_avoided", "value_for_money", "value_inputs", "programme_cost"):
        del tables[name]
    sec = value_section(report_text(tables, fixture_meta()))
    assert "The hospital costs avoided are not available for this quarter." in sec
    assert "The return on investment is not available for this quarter." in sec
    assert "Table 7: Social return on investment: impact map" in sec  # the social return stands on its own
    assert "Figure 3: The social return with one assumption" in sec
    assert "Table 8: Reference values used" in sec


def test_value_section_when_the_12_month_cohort_is_empty():
    """An early quarter (no one followed for 12 months yet): the costed tables are blank; one sentence says why
    there are no costs avoided and no return, the social return is still shown."""
    tables = fixture_tables()
    tables["hospital_use"] = tables["hospital_use"].with_columns(
        pl.when(pl.col("cohort") == "12m").then(0).otherwise(pl.col("n_patients")).alias("n_patients"))
    tables["matched_effects"] = tables["matched_effects"].with_columns(  # as the pipeline leaves it: no one matched
        pl.when(pl.col("cohort") == "12m").then(0).otherwise(pl.col(c)).alias(c) for c in ("n_treated", "n_controls"))
    costs = tables["costs_avoided"]
    blank = ("events_avoided_per_patient", "saving_per_patient_gbp", "saving_ci_low_gbp", "saving_ci_high_gbp")
    tables["costs_avoided"] = costs.with_columns(pl.lit(None, pl.Float64).alias(c) for c in blank)
    tables["value_for_money"] = tables["value_for_money"].with_columns(
        pl.lit(None, pl.Float64).alias(c) for c in ("benefit_gbp", "roi", "roi_ci_low", "roi_ci_high",
                                                  "prob_roi_at_least_1")).with_columns(
        pl.lit(None, pl.Int64).alias("payback_months"))
    tables["value_inputs"] = tables["value_inputs"].with_columns(
        pl.lit(None, pl.Float64).alias(c) for c in ("saving_per_patient_gbp", "annual_benefit_gbp"))
    ctx = build_context(tables, fixture_meta())
    assert ctx["value"]["status"] == {"naive": "empty", "matched": "empty"}
    assert ctx["tabno"]["costs"] is None and ctx["tabno"]["roi"] is None and ctx["figures"]["roi"] is None
    sec = value_section(html_text(render_html(ctx)))
    assert ("The return on investment cannot be worked out for this quarter: no patients were in the 12 month "
            "cohort, whose hospital use before and after referral is what is costed.") in sec
    assert "No patients were in the 12 month cohort, so there are no hospital costs avoided to show" in sec
    assert "No return on investment can be worked out for this quarter: no patients were in the 12 month cohort" in sec
    assert f"Table {ctx['tabno']['sroi']}: Social return on investment: impact map" in sec
    assert "Hospital costs avoided per patient" not in sec and "Return per £1 spent" not in sec


def test_value_section_withholds_a_small_matched_group():
    """Fewer than 8 matched patients in the 12 month cohort: the matched saving per patient is a mean over them,
    so it and every return worked from it are *; the naive figures stay, and nothing is quoted from them."""
    tables = fixture_tables()
    tables["matched_effects"] = tables["matched_effects"].with_columns(
        pl.when(pl.col("cohort") == "12m").then(5).otherwise(pl.col("n_treated")).alias("n_treated"))
    ctx = build_context(tables, fixture_meta())
    v = ctx["value"]
    assert v["status"] == {"naive": "ok", "matched": "small"}
    total = next(r for r in v["costs"]["rows"] if r["total"])
    assert (total["matched_saving"], total["matched_ci"], total["naive_saving"]) == ("*", "*", "£727")
    sustained = next(r for r in v["roi"]["rows"] if r["scenario"] == "drop_off_0")
    assert (sustained["matched"], sustained["matched_ci"], sustained["prob"], sustained["naive"]) == \
        ("*", "*", "*", "6.46")
    assert v["quote"] == ("The return on investment against a matched comparison group is not shown: fewer than 8 "
                          "patients of the 12 month cohort were matched, so it is suppressed. The before-and-after "
                          "figures below, without a comparison group, overstate any return: regression to the mean "
                          "inflates them.")
    assert v["sensitivity"]["return_svg"] is None and v["sensitivity"]["social_svg"] is not None
    html = render_html(build_context(tables, fixture_meta()))
    assert "The sensitivity of the return is not shown: there is no matched return for this quarter." in html
    assert "Matched figures not shown: fewer than 8 patients, so its figures are suppressed." in " ".join(html.split())


# ----------------------------------------------------------------------- cohort flow (Figure 2)


def flow_svg_of(html: str) -> str:
    (svg,) = re.findall(r'<svg\b[^>]*aria-label="Cohort flow[^"]*".*?</svg>', html, flags=re.S)
    return svg


def svg_texts(svg: str) -> list[str]:
    return re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)


def test_cohort_flow_figure(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    pages = text.split("\f")
    (page,) = [p for p in pages if "Figure 6: Cohort flow" in p]
    flat = " ".join(page.split())
    # Published numbers, in the PDF (the SVG is drawn with real text).
    for needle in ("12 month cohort", "6 month cohort", "n = 910", "n = 880",
                   "12 month cohort: n = 110", "6 month cohort: n = 450",
                   "Excluded: 30", "Excluded: 750", "Excluded: 405", "Excluded: *",
                   "Referred to the programme by 31 December 2013", "(1 April 2011)",
                   "(31 December 2013)"):
        assert needle in flat, needle
    # Figure 6 is in "Who was included", after Table 13 (the attrition table).
    whole = " ".join(text.split())
    assert whole.index("Table 13: People included at each step") < whole.index("Figure 6: Cohort flow") \
        < whole.rindex("7 Caveats")
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    texts = svg_texts(flow_svg_of(html))
    joined = " | ".join(texts)
    # 6 month cohort: 880 -> 875 excludes 5 people at the pre-referral step -> '*';
    # 12 month cohort: 112 -> 108 excludes 4 at the registration step -> '*'.
    assert texts.count("Excluded: *") == 3  # also 6m: 458 -> 451 excludes 7
    for raw in ("Excluded: 5", "Excluded: 4", "Excluded: 7", "Excluded: 32", "Excluded: 8"):
        assert raw not in texts, raw
    for raw in ("912", "112", "108", "458", "451"):
        assert raw not in joined, raw
    assert texts.count("Excluded: 10") == 3  # 880 -> 870 (10), 120 -> 112 (8), 470 -> 458 (12)


def test_flow_from_attrition_with_a_step_of_five():
    attrition = pl.DataFrame({
        "cohort": ["12m"] * 6,
        "step": ["referred", "linked", "pre_window_covered", "post_window_covered", "alive",
                 "registered"],
        "n": [33, 31, 30, 12, 5, 5],
    })
    ctx = build_context({"attrition": attrition}, fixture_meta())
    assert ctx["figures"] == {"chart": None, "love": None, "roi": None, "tornado_roi": None, "tornado_sroi": None,
                              "flow": 1}
    assert ctx["value"] is None  # no economics table given: no value-for-money section
    assert ctx["tabno"]["attrition"] == 1 and ctx["matched"] is None
    texts = svg_texts(str(ctx["flow_svg"]))
    assert "n = 35" in texts and "n = 30" in texts and "n = 10" in texts  # 33, 31->30, 12->10
    assert "n = *" in texts and "12 month cohort: n = *" in texts  # steps of 5 people
    assert "Excluded: 0" in texts  # 5 -> 5
    assert texts.count("Excluded: *") == 3  # 2, 1 and 7 people excluded
    assert "Excluded: 18" not in texts and "Excluded: 20" in texts  # 30 -> 12 excludes 18
    assert "6 month cohort" not in texts


def _rect_boxes(root) -> list[tuple[float, float, float, float]]:
    return [(float(r.get("x")), float(r.get("y")), float(r.get("x")) + float(r.get("width")),
             float(r.get("y")) + float(r.get("height"))) for r in root.iter(f"{{{SVG_NS}}}rect")]


SVG_NS = "http://www.w3.org/2000/svg"


def assert_flow_layout_clean(svg: str) -> None:
    """Every line of text lies inside a box (or the heading band above the boxes), within
    the view box; boxes never overlap."""
    root = ET.fromstring(svg)
    _, _, vw, vh = (float(v) for v in root.get("viewBox").split())
    rects = _rect_boxes(root)
    top_of_boxes = min(r[1] for r in rects)
    for t in root.iter(f"{{{SVG_NS}}}text"):
        size = float(t.get("font-size"))
        w = flow.text_width(t.text, size, t.get("font-weight") == "bold")
        x, y = float(t.get("x")), float(t.get("y"))
        x0 = x - w / 2 if t.get("text-anchor") == "middle" else x
        box = (x0, y - 0.76 * size, x0 + w, y + 0.24 * size)
        assert 0 <= box[0] and box[2] <= vw and 0 <= box[1] and box[3] <= vh, t.text
        if box[3] <= top_of_boxes:  # a cohort heading
            continue
        assert any(r[0] < box[0] and box[2] < r[2] and r[1] < box[1] and box[3] < r[3]
                   for r in rects), f"text outside every box: {t.text!r}"
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, (a, b)


def test_flow_layout_fits_and_is_deterministic(rendered):
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    svg = flow_svg_of(html)
    assert_flow_layout_clean(svg)
    assert " id=" not in svg  # nothing to clash with other inline SVGs
    # Long labels and reasons still wrap inside their boxes; one cohort alone is centred.
    long = flow.FlowCohort(title="A cohort with a long name", final_label="Cohort", steps=[
        flow.FlowStep("Referred to the programme by 31 December 2013", "910"),
        flow.FlowStep("A very long step label " * 4, "*", "*", "a very long reason " * 6),
        flow.FlowStep("Short", "0", "905", "x"),
    ])
    one = flow.cohort_flow_svg([long])
    assert_flow_layout_clean(one)
    assert one == flow.cohort_flow_svg([long])
    assert_flow_layout_clean(flow.cohort_flow_svg([long, long]))


# ----------------------------------------------------------------------- HES data quality


def test_hes_data_quality_appendix(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    flat = " ".join(text.split())
    # Contents: three appendices, lettered in order.
    contents = " ".join(text.split("\f")[1].split())
    assert re.search(r"Appendix A Data and validation \.+ ?\d+ Appendix B HES data quality "
                     r"\.+ ?\d+ Appendix C Provenance", contents), contents
    start = flat.index("Appendix B: HES data quality")
    section = flat[start:flat.index("Appendix C: Provenance")]
    assert flat.index("Appendix A: Data and validation") < start
    # Published (rounded) counts, never the planted raw ones.
    for raw, shown in PLANTED_DQ.items():
        assert raw not in section and with_separators(raw) not in section, (raw, shown)
        assert with_separators(shown) in section, (raw, shown)
    assert "op.csv 32,410 32,400 0 * 10" in section, section
    assert "persons.csv 5,005 4,995 * * 0" in section
    # Date range per file, naming its main date column.
    assert "persons.csv REGISTERED_FROM 1 Apr 1998 28 Nov 2013" in section
    assert "apc.csv ADMIDATE 1 Apr 2011 30 Dec 2013" in section
    # Changes since the previous delivery, naming it; 3 withdrawn persons -> '*'.
    assert "Compared with HES delivery 2013Q3" in section
    assert re.search(r"persons\.csv 15 \* 210", section)
    assert re.search(r"op\.csv 130 10 3,905", section)
    # Missingness: only columns with missing values, % of records to one decimal.
    for needle in ("persons.csv LSOA11 0.1", "persons.csv IMD_DECILE <0.1",
                   "persons.csv REGISTERED_TO 82.0 blank = still registered",
                   "persons.csv DATE_OF_DEATH 97.4 blank = alive", "apc.csv DISDATE 4.1",
                   "apc.csv DIAG_4_01 0.1", "ae.csv AEARRIVALMODE 100.0"):
        assert needle in section, needle
    for absent in ("YEAR_OF_BIRTH", "TRETSPEF", "4871", "4,871", "81.95", "97.36"):
        assert absent not in section, absent
    # Appendix A prints the same file's rows exactly: rows of a file are not people (ADR 0003), and a reader can
    # check that they add up (read = accepted + quarantined + duplicates).
    appendix_a = flat[flat.index("Appendix A: Data and validation"):start]
    assert "hes/2013Q4/op.csv hes 32,412 32,400 12 0" in appendix_a
    assert "hes/2013Q4/persons.csv hes 5,003 4,993 4 6" in appendix_a
    assert "Row counts are exact, not rounded" in appendix_a and "rounded to the nearest 5" not in appendix_a
    assert "Previous HES delivery 2013Q3" in flat


def test_absent_quality_tables_one_cohort_no_previous_delivery():
    tables = fixture_tables()
    del tables["hes_missingness"]
    tables["attrition"] = tables["attrition"].filter(pl.col("cohort") == "6m")
    tables["hes_file_quality"] = tables["hes_file_quality"].with_columns(
        pl.lit(None, pl.String).alias("previous_delivery"),
        *[pl.lit(None, pl.Int64).alias(c)
          for c in ("records_revised", "records_withdrawn", "records_new")])
    meta = fixture_meta()
    meta["deliveries"]["previous_hes"] = None
    html = render_html(build_context(tables, meta))
    flat = " ".join(html_text(html).split())
    assert "Figure 6: Cohort flow" in flat and "6 month cohort: n = 450" in flat
    assert "12 month cohort: n =" not in flat
    assert "There is no earlier HES delivery, so there is nothing to compare with." in flat
    assert "The missing-value summary is not available" in flat
    assert "op.csv 32,410 32,400 0 * 10" in flat
    assert "Previous HES delivery none" in flat
    assert_flow_layout_clean(flow_svg_of(html))


# ----------------------------------------------------------------------- matched comparison


def section_text(text: str, start: str, end: str) -> str:
    """The flattened text from ``start`` to ``end``, after the title page and contents."""
    flat = " ".join("\f".join(text.split("\f")[2:]).split())
    i = flat.index(start)
    return flat[i:flat.index(end, i)]


def value_section(text: str) -> str:
    """Section 4, value for money (its tornado labels end in "... 0.75 Well-being of ...", so the end is the
    well-being section's first words)."""
    return section_text(text, "4 Value for money and social value", "5 Well-being Service users")


def test_matched_section_explains_and_compares(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    flat = " ".join(text.split())
    sec = section_text(text, "3 Comparison with a matched group", "4 Value for money and social value")
    # In the contents, before Well-being.
    contents = " ".join(text.split("\f")[1].split())
    assert re.search(r"3 Comparison with a matched group \.+ ?\d+ 4 Value for money and social value \.+ ?\d+ "
                     r"5 Well-being", contents), contents
    # Plain-words explanation and the method, from the run parameters.
    for needle in ("regression to the mean", "never referred", "same referral week",
                   "3, 6 and 12 months before the index date",
                   "a matched patient's are measured again at the index date they take",
                   "same index date", "propensity score", "exact matching",
                   "Within each referral week (Monday to Sunday, within the quarter of referral",
                   "nearest neighbour on the logit of the score, 1:1",
                   "within 0.2 standard deviations of the logit (the caliper)",
                   "without replacement (each never-", "patient is used at most once)",
                   "cluster bootstrap that resamples whole matched sets (1,000 replicates, seed 42)"):
        assert needle in sec, needle
    # Table 2a: naive change (Table 1, all patients) beside the matched DiD and the doubly robust one.
    assert "Table 2a: Change per patient: naive before and after, and compared with the matched group" in sec
    for row in ("Emergency admissions −0.23 −0.08 −0.21 to 0.04 −0.06 −0.19 to 0.07 95 95",
                "A&E attendances −0.48 −0.31 −0.50 to −0.13 −0.27 −0.44 to −0.10 95 95",
                "Outpatient appointments −0.46 +0.04 −0.15 to 0.23 +0.04 −0.14 to 0.21 95 95",
                "6 month cohort In-patient admissions −0.12 * * * * * *"):
        assert row in sec, row
    # Table 2b: the ratio of rate ratios, the one the doubly robust estimate implies, and E-values.
    assert ("Table 2b: Proportional change compared with the matched group (rate ratios), and "
            "E-values") in sec
    for row in ("Emergency admissions 0.89 0.73 to 1.07 0.92 0.77 to 1.10 1.51 1.00",
                "A&E attendances 0.81 0.71 to 0.92 0.84 0.74 to 0.94 1.77 1.40",
                "Outpatient appointments 1.02 0.91 to 1.14 1.02 0.92 to 1.13 1.18 1.00",
                "6 month cohort In-patient admissions * * * * * *"):
        assert row in sec, row
    # The doubly robust check, against the plan's primary estimate, and the E-value readings.
    for needle in (
            "The doubly robust estimate checks the matching.",
            "The analysis plan names the plain difference in differences for emergency admissions in "
            "the 12 month cohort as the primary estimate, so the doubly robust estimate is shown "
            "beside it as a check, not in its place.",
            "For emergency admissions in the 12 month cohort the two agree: the doubly robust "
            "estimate (−0.06 per patient, 95% interval −0.19 to 0.07) is in the same direction as "
            "the difference in differences (−0.08) and within its 95% interval (−0.21 to 0.04).",
            "12 month cohort, emergency admissions: an unmeasured factor would have to be associated "
            "with both referral and emergency admissions by a rate ratio of at least 1.51 each, over "
            "and above the matching characteristics, to explain away the estimated effect (a ratio "
            "of rate ratios of 0.89); its 95% interval (0.73 to 1.07) already includes 1 (no "
            "effect), so no unmeasured factor is needed to make the result compatible with no "
            "effect.",
            "6 month cohort, emergency admissions: fewer than 8 patients were matched, so the "
            "E-value is suppressed."):
        assert needle in sec, needle
    # One sentence per cohort, from the published values.
    assert ("12 month cohort, emergency admissions: the matched estimate (−0.08 per patient) is "
            "smaller than the naive fall (−0.23): part of the fall would have happened anyway; its "
            "95% interval (−0.21 to 0.04) includes zero, so there is no clear evidence of a change "
            "due to referral. For the other measures, the 95% interval excludes zero only for "
            "A&E attendances (fewer).") in sec
    assert ("6 month cohort, emergency admissions: fewer than 8 patients were matched, so the "
            "matched estimate is suppressed.") in sec
    # Means of both groups (Table 3), the 6 month cohort suppressed.
    assert "Table 3: Mean hospital use per patient before and after the index date" in sec
    assert "Emergency admissions 0.98 0.77 0.95 0.83" in sec
    # Love plot and balance table (12 month cohort only: the 6 month one is withheld whole).
    assert ("Figure 2: Balance before and after matching: absolute standardised mean difference "
            "of each characteristic, by cohort (dashed line: 0.1)") in sec
    assert "Table 4: Standardised mean differences before and after matching" in sec
    for row in ("Age 0.31 0.04", "Sex (female) −0.16 −0.04",
                "Emergency admissions, last 12 months 0.40 0.09",
                "Outpatient appointments, last 6 months 0.82 0.06",
                "Any characteristic imputed 0.34 0.06",
                "Emergency admissions, last 3 months 0.35 0.07",
                "6 month cohort: not shown, because fewer than 8 patients were matched.",
                "12 month cohort: after matching, every characteristic has an absolute SMD "
                "below 0.1."):
        assert row in sec, row
    # Characteristics in report order: age ... risk score, imputed, then 12, 6 and 3 months.
    table4 = sec[sec.index("Table 4:"):sec.index("Table 5:")]
    order = ["Age ", "Risk score ", "Any characteristic imputed ", "Emergency admissions, last 12",
             "Outpatient appointments, last 12", "Emergency admissions, last 6",
             "Outpatient appointments, last 6", "Emergency admissions, last 3",
             "Outpatient appointments, last 3"]
    assert [table4.index(o) for o in order] == sorted(table4.index(o) for o in order)
    # Unmatched referred patients, by reason (published counts).
    assert "Table 5: Referred patients matched and not matched, by reason" in sec
    for row in ("Matched 95 *", "No candidate in the same referral week * 10",
                "No candidate close enough (outside the caliper) * 430",
                "Close candidates already matched to others * *",
                "Not matched, all reasons 10 445"):
        assert row in sec, row


def test_sensitivity_table(rendered):
    sec = section_text(pdftotext(rendered["first"]["pdf"]), "Table 6: Emergency admissions",
                       "4 Value for money and social value")
    rows = [
        "0.2 PRIMARY 1:1 without 95 0.09 −0.08 −0.21 to 0.04 * * * *",
        "0.1 1:1 without 85 0.07 −0.05 −0.18 to 0.07 345 0.07 −0.03 −0.16 to 0.09",
        "0.1 1:1 with 85 0.07 −0.05 −0.19 to 0.07 360 0.07 −0.03 −0.16 to 0.09",
        "0.1 5:1 without 75 0.09 −0.07 −0.20 to 0.06 * * * *",   # 6 month: 5 matched
        "0.2 1:1 with 100 0.10 −0.08 −0.21 to 0.04 405 0.10 −0.05 −0.18 to 0.08",
        "0.5 5:1 with 100 0.14 −0.12 −0.25 to 0.00 405 0.14 −0.07 −0.20 to 0.05",
    ]
    positions = []
    for row in rows:
        assert row in sec, row
        positions.append(sec.index(row))
    assert positions[0] == min(positions)  # primary first
    assert positions[1:] == sorted(positions[1:])  # then caliper, ratio, replacement
    # 18 settings: the primary one and the other 17 of the grid, each once.
    assert len(re.findall(r"\b\d:1 with(?:out)?\b", sec)) == 18
    assert sec.count("PRIMARY") == 1


def test_summary_and_caveats_lead_with_matched(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    summary = section_text(text, "1 Summary", "2 Hospital use before and after referral")
    assert ("Emergency admissions, compared with the matched group: −0.08 per patient in the "
            "12 month cohort (95% interval −0.21 to 0.04: no clear evidence of a change) and "
            "suppressed in the 6 month cohort (fewer than 8 patients matched). A doubly robust "
            "check, which also adjusts for differences left after matching, gives −0.06 per patient "
            "in the 12 month cohort (95% interval −0.19 to 0.07): the same direction, and within the "
            "interval of the matched estimate. Before and after referral alone, without a "
            "comparison, they fell by 23% in the 12 month cohort and fell by 23% in the 6 month "
            "cohort.") in summary
    assert summary.count("doubly robust") == 1  # the plan's primary outcome only
    assert "(95% interval −0.50 to −0.13: fewer than expected without referral)" in summary
    assert "regression to the mean" in summary
    caveats = section_text(text, "7 Caveats", "Appendix A: Data and validation")
    for needle in ("Matching uses recorded history only.", "Unmeasured differences.",
                   "Matched within the week of referral."):
        assert needle in caveats, needle
    assert "No comparison group" not in caveats and "No comparison group" not in summary


def test_matched_raw_values_never_published(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    svg_text = " ".join(re.findall(r"<text\b[^>]*>([^<]*)</text>", html))
    body = re.sub(r"<svg\b.*?</svg>", " ", html, flags=re.S)
    for doc in (text, body, svg_text):
        for raw in PLANTED_MATCHED_RAW:
            assert raw not in doc, raw
    sec = section_text(text, "3 Comparison with a matched group", "4 Value for money and social value")
    for raw in ("96", "347", "431", "84"):  # raw counts: 12 month matched, 6 month, unmatched
        assert f" {raw} " not in f" {sec} ", raw
    # The love plot shows only the published 12 month cohort.
    love = re.search(r'<figure class="chart love">.*?</figure>', html, flags=re.S).group(0)
    titles = re.findall(r"<text\b[^>]*>([^<]*cohort)</text>", love)
    assert titles == ["12 month cohort"]


def test_love_plot_two_cohorts_and_fallbacks():
    """Both cohorts publishable: two panels; primary-only tables still give every part."""
    tables = fixture_tables()
    me_all = tables["matched_effects_all_settings"].with_columns(
        pl.when((pl.col("setting") == "primary") & (pl.col("cohort") == "6m"))
        .then(pl.lit(40)).otherwise(pl.col("n_treated")).alias("n_treated"),
        pl.when((pl.col("setting") == "primary") & (pl.col("cohort") == "6m"))
        .then(pl.lit(40)).otherwise(pl.col("n_controls")).alias("n_controls"))
    tables["matched_effects_all_settings"] = me_all
    bal = tables["balance_all_settings"]
    tables["balance_all_settings"] = bal.with_columns(
        pl.when((pl.col("setting") == "primary") & (pl.col("cohort") == "6m")
                & (pl.col("covariate") == "risk_score"))
        .then(pl.lit(-0.1234)).otherwise(pl.col("smd_after")).alias("smd_after"),
        pl.when((pl.col("setting") == "primary") & (pl.col("cohort") == "12m")
                & (pl.col("covariate") == "female"))
        .then(pl.lit(float("-inf"))).otherwise(pl.col("smd_before")).alias("smd_before"))
    del tables["matched_effects"], tables["balance"]  # taken from the all-settings tables
    ctx = build_context(tables, fixture_meta())
    m = ctx["matched"]
    assert [c["status"] for c in m["cohorts"]] == ["ok", "ok"]
    assert [b["label"] for b in m["balance"]["cohorts"]] == ["12 month cohort", "6 month cohort"]
    svg = str(m["love_svg"])
    texts = re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)
    assert "12 month cohort" in texts and "6 month cohort" in texts
    assert "Emergency admissions, last 12 months  " in texts  # human labels
    assert 'font-family:' in svg and "DejaVu Sans" in svg
    assert svg == str(build_context(tables, fixture_meta())["matched"]["love_svg"])
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("love-") for i in ids)
    assert ctx["figures"] == {"chart": 1, "love": 2, "roi": 3, "tornado_roi": 4, "tornado_sroi": 5, "flow": 6}
    assert m["cohorts"][1]["compare"][1]["did"] == "-7.78"  # now 40 matched: published
    # An infinite SMD (difference over a zero SD) is shown as such, not plotted, and noted.
    female = next(r for r in m["balance"]["rows"] if r["label"] == "Sex (female)")
    assert female["cells"][0]["before"] == "-\u221e" and m["balance"]["has_infinite"]
    assert "cannot be plotted" in render_html(ctx)
    # A characteristic still at |SMD| >= 0.1 after matching is named.
    assert m["balance"]["summary"] == [
        "12 month cohort: after matching, every characteristic has an absolute SMD below 0.1.",
        "6 month cohort: after matching, one characteristic still has an absolute SMD of 0.1 or "
        "more: risk score (−0.12). Remaining differences can bias the difference in "
        "differences."]
    assert ctx["tabno"] == {"hospital": 1, "compare": 2, "means": 3, "balance": 4,
                            "unmatched": 5, "sensitivity": 6, "costs": 7, "roi": 8, "sroi": 9, "sources": 10,
                            "wellbeing_baseline": 11, "wellbeing": 12, "attrition": 13}


def test_absent_matching_tables_still_render():
    flat = " ".join(report_text(fixture_tables(matching=False, economics=False), fixture_meta()).split())
    assert "Comparison with a matched group" not in flat
    assert "No comparison group yet." in flat
    assert "There is no comparison group yet" in flat
    assert "Table 4: People included at each step" in flat and "Figure 2: Cohort flow" in flat
    # Only some matching tables: whatever is there is shown, the rest is "not available".
    tables = fixture_tables()
    for name in ("matched_effects", "matched_effects_all_settings", "unmatched_treated"):
        del tables[name]
    ctx = build_context(tables, fixture_meta())
    m = ctx["matched"]
    assert m is not None and not m["cohorts"] and m["sensitivity"] is None
    assert m["unmatched"] is None
    # Balance without group sizes is withheld (fail closed), never shown raw.
    assert m["love_svg"] is None and not m["balance"]["cohorts"]
    html = render_html(ctx)
    assert "Balance before and after matching" not in html
    assert "Standardised mean differences before and after matching" not in html
    assert ("The balance chart and table are not shown: 12 month cohort: not shown"
            in " ".join(html.split()))


@pytest.mark.parametrize(
    ("naive", "did", "lo", "hi", "expected"),
    [
        ("-0.23", "-0.08", "-0.21", "0.04",
         "the matched estimate (−0.08 per patient) is smaller than the naive fall (−0.23): part of "
         "the fall would have happened anyway; its 95% interval (−0.21 to 0.04) includes zero, so "
         "there is no clear evidence of a change due to referral."),
        ("-0.23", "-0.15", "-0.25", "-0.05",
         "smaller than the naive fall (−0.23): part of the fall would have happened anyway; its 95% "
         "interval (−0.25 to −0.05) is below zero: evidence of fewer emergency admissions than "
         "without referral."),
        ("-0.23", "0.02", "-0.10", "0.14",
         "the matched group fell at least as much, so the naive fall (−0.23) would have happened "
         "anyway (matched estimate +0.02)"),
        ("-0.10", "-0.20", "-0.30", "0.00", "at least as large as the naive fall (−0.10); its 95% "
         "interval (−0.30 to 0.00) includes zero"),  # a bound published as 0.00 includes zero
        ("0.10", "0.30", "0.12", "0.48", "evidence of more emergency admissions"),
        ("", "-0.08", "-0.21", "0.04", "the matched estimate is −0.08 per patient; its 95%"),
        ("-0.23", "*", "*", "*", "fewer than 8 patients were matched"),
        ("-0.23", "", "", "", "there is no matched estimate."),
    ],
)
def test_interpret_matched(naive, did, lo, hi, expected):
    sentence = interpret_matched("12 month cohort", "Emergency admissions", naive, did, lo, hi)
    assert sentence.startswith("12 month cohort, emergency admissions: ")
    assert expected in sentence, sentence


def test_interpret_matched_keeps_acronyms():
    sentence = interpret_matched("6 month cohort", "A&E attendances", "-0.48", "-0.31", "-0.50",
                                 "-0.13")
    assert sentence.startswith("6 month cohort, A&E attendances: the matched estimate (−0.31 per "
                               "patient) is smaller than the naive fall (−0.48)")
    assert sentence.endswith("is below zero: evidence of fewer A&E attendances than without "
                             "referral.")


# ----------------------------------------------------------------------- doubly robust estimate, E-values


NEW_EFFECT_COLUMNS = [*ADJUSTED_COLUMNS, "e_value", "e_value_ci"]


@pytest.mark.parametrize("how", ["absent", "blank"])
def test_renders_without_the_doubly_robust_estimate_or_e_values(how):
    """A warehouse built before ADR 0017 (columns absent) or one that left them blank: the effect
    tables lose those columns, the readings about them are left out, the rest is as before."""
    tables = fixture_tables()
    me_all = tables["matched_effects_all_settings"]
    tables["matched_effects_all_settings"] = (
        me_all.drop(NEW_EFFECT_COLUMNS) if how == "absent"
        else me_all.with_columns(pl.lit(None, pl.Float64).alias(c) for c in NEW_EFFECT_COLUMNS))
    ctx = build_context(tables, fixture_meta())
    m = ctx["matched"]
    assert m["show"] == {"adjusted": False, "e_values": False, "rates": True}
    assert m["doubly_robust"] == "" and m["e_values"] == [] and m["adjusted"] == {}
    text = html_text(render_html(ctx))
    sec = section_text(text, "3 Comparison with a matched group", "4 Value for money and social value")
    assert "Emergency admissions −0.23 −0.08 −0.21 to 0.04 95 95" in sec
    assert "Emergency admissions 0.89 0.73 to 1.07" in sec
    assert "Table 2b: Proportional change compared with the matched group (rate ratios)" in sec
    for gone in ("Doubly robust", "doubly robust", "E-value"):
        assert gone not in sec, gone
    summary = section_text(text, "1 Summary", "2 Hospital use before and after")
    assert "doubly robust" not in summary


@pytest.mark.parametrize(
    ("did", "lo", "hi", "adjusted", "expected"),
    [
        ("-0.08", "-0.21", "0.04", "-0.06", "agree"),
        ("-0.08", "-0.21", "0.04", "0.00", "within"),
        ("-0.08", "-0.21", "0.04", "0.03", "direction"),
        ("-0.08", "-0.21", "0.04", "-0.25", "outside"),
        ("-0.08", "-0.21", "0.04", "0.06", "direction_outside"),
        ("*", "*", "*", "*", "suppressed"),
        ("-0.08", "-0.21", "0.04", "", None),
    ],
)
def test_adjusted_agreement(did, lo, hi, adjusted, expected):
    assert adjusted_agreement(did, lo, hi, adjusted) == expected


def _doubly_robust(adj: str, agreement: str | None, estimator: str = "did") -> str:
    return sentence("sections/matched_sentences.j2", "doubly_robust", estimator=estimator,
                    cohort="12 month cohort", measure="Emergency admissions", did="-0.08",
                    lo="-0.21", hi="0.04", adj=adj, adj_lo="-0.30", adj_hi="0.10",
                    agreement=agreement)


def test_doubly_robust_reading_says_when_the_two_disagree():
    assert _doubly_robust("0.03", "direction").endswith(
        "For emergency admissions in the 12 month cohort the two point in opposite directions "
        "(doubly robust +0.03 per patient against −0.08), so differences left after matching may "
        "account for the estimated change.")
    assert _doubly_robust("-0.25", "outside").endswith(
        "the doubly robust estimate (−0.25 per patient) falls outside the 95% interval of the "
        "difference in differences (−0.21 to 0.04), so differences left after matching affect the "
        "estimate and it should be read with care.")
    both = _doubly_robust("0.06", "direction_outside")
    assert "points the opposite way to the difference in differences (−0.08) and falls outside " \
           "its 95% interval (−0.21 to 0.04)" in both
    # Nothing to compare: the paragraph explains the estimate and stops.
    assert _doubly_robust("*", "suppressed").endswith("as a check, not in its place.")
    # A plan whose primary estimate is the doubly robust one says so.
    assert "names the doubly robust estimate for emergency admissions in the 12 month cohort as " \
           "the primary estimate" in _doubly_robust("-0.06", "agree", estimator="did_adjusted")


def test_e_value_reading_when_the_interval_excludes_one():
    text = sentence("sections/matched_sentences.j2", "e_value", cohort="12 month cohort",
                    measure="A&E attendances", rr="0.81", lo="0.71", hi="0.92", e="1.77",
                    e_ci="1.40")
    assert text == (
        "12 month cohort, A&E attendances: an unmeasured factor would have to be associated with "
        "both referral and A&E attendances by a rate ratio of at least 1.77 each, over and above "
        "the matching characteristics, to explain away the estimated effect (a ratio of rate "
        "ratios of 0.81); to move its 95% interval (0.71 to 0.92) to include 1 (no effect), a rate "
        "ratio of 1.40 each would be enough.")
    none = sentence("sections/matched_sentences.j2", "e_value", cohort="6 month cohort",
                    measure="Emergency admissions", rr="1.00", lo="0.80", hi="1.25", e="1.00",
                    e_ci="1.00")
    assert "the ratio of rate ratios is 1.00, no difference from the matched group" in none


def test_effect_estimates_table_for_auditors(tmp_path):
    """tables/effect_estimates.csv: primary setting only, one row per cohort × measure × estimator in
    the contract's order, unrounded, blank (never NaN) where there is no value."""
    import duckdb

    from speval.report.outputs import EFFECT_ESTIMATES_COLUMNS, read_extra_table

    me = matched_effects_all_fixture().with_columns(  # an undefined ratio stored as NaN: written blank
        pl.when((pl.col("setting") == "primary") & (pl.col("cohort") == "12m")
                & (pl.col("measure") == "outpatient_appointments"))
        .then(float("nan")).otherwise(pl.col("rate_ratio_adjusted")).alias("rate_ratio_adjusted"))
    settings = matching_tables()["matching_settings"]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA analysis")
    con.register("me", me)
    con.register("ms", settings)
    con.execute("CREATE TABLE analysis.matched_effects AS SELECT * FROM me")
    con.execute("CREATE TABLE analysis.matching_settings AS SELECT * FROM ms")
    df = read_extra_table(con, "effect_estimates")
    assert tuple(df.columns) == EFFECT_ESTIMATES_COLUMNS
    assert df.height == 2 * 4 * 2
    assert df.select("cohort", "measure", "estimator").head(4).rows() == [
        ("6m", "inpatient_admissions", "did"), ("6m", "inpatient_admissions", "did_adjusted"),
        ("6m", "emergency_admissions", "did"), ("6m", "emergency_admissions", "did_adjusted")]
    rows = {(r["cohort"], r["measure"], r["estimator"]): r for r in df.to_dicts()}
    did = rows[("12m", "emergency_admissions", "did")]
    adj = rows[("12m", "emergency_admissions", "did_adjusted")]
    assert (did["estimate"], did["ci_low"], did["ci_high"]) == PRIMARY_12M["emergency_admissions"][:3]
    assert (did["rate_ratio"], did["rr_ci_low"], did["rr_ci_high"]) == \
        PRIMARY_12M["emergency_admissions"][3:]
    assert (did["e_value"], did["e_value_ci"]) == E_VALUES_12M["emergency_admissions"]
    assert tuple(adj[c] for c in ("estimate", "ci_low", "ci_high", "rate_ratio", "rr_ci_low",
                                  "rr_ci_high")) == ADJUSTED_12M["emergency_admissions"]
    assert adj["e_value"] is None and adj["e_value_ci"] is None
    # Unsuppressed: the 6 month cohort's 6 matched patients are there in full.
    assert rows[("6m", "emergency_admissions", "did")]["estimate"] == PLANTED_6M["did"]
    path = tmp_path / "effect_estimates.csv"
    df.write_csv(path)
    text = path.read_text()
    assert "nan" not in text.lower()
    assert rows[("12m", "outpatient_appointments", "did_adjusted")]["rate_ratio"] is None
