"""The evaluation's vocabulary, written once: programmes, cohorts, groups, hospital-use measures, well-being
measures, attrition steps, unmatched reasons and thresholds — each with its code (as in the output tables),
its label (as in the report) and its order. SQL reads the lists as reference tables written from here
(`reference_tables`); Python imports them; nothing restates them.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Term:
    code: str
    label: str


@dataclass(frozen=True)
class Programme(Term):
    """A social prescribing programme of the outcome tool."""

    @classmethod
    def parse(cls, code: str) -> Programme:
        for programme in PROGRAMMES:
            if programme.code == code:
                return programme
        raise ValueError(f"unknown programme {code!r}: choose {' or '.join(p.code for p in PROGRAMMES)} "
                         f"({', '.join(f'{p.code} {p.label.lower()}' for p in PROGRAMMES)})")


@dataclass(frozen=True)
class Cohort(Term):
    """Referred persons followed for `months` before and after their index date."""

    months: int


PROGRAMMES = (Programme("LTC", "Long-term conditions"), Programme("MH", "Mental health"))

COHORTS = (Cohort("6m", "6 month cohort", 6), Cohort("12m", "12 month cohort", 12))

GROUPS = (Term("all", "All cohort members"), Term("funded", "With a funded onward referral"))

MEASURES = (
    Term("inpatient_admissions", "In-patient admissions"),
    Term("emergency_admissions", "Emergency admissions"),
    Term("ae_attendances", "A&E attendances"),
    Term("outpatient_appointments", "Outpatient appointments"),
)
MEASURE_CODES = tuple(m.code for m in MEASURES)

WELLBEING_MEASURES = (
    Term("feeling_positive", "Feeling positive"),
    Term("lifestyle", "Lifestyle"),
    Term("looking_after_yourself", "Looking after yourself"),
    Term("managing_symptoms", "Managing symptoms"),
    Term("work_volunteering_social", "Work, volunteering and social groups"),
    Term("money", "Money"),
    Term("where_you_live", "Where you live"),
    Term("family_friends", "Family and friends"),
)

ATTRITION_STEPS = (
    Term("referred", "Referred to the programme by the end of the quarter"),
    Term("linked", "Linked to hospital records (HES)"),
    Term("pre_window_covered", "HES covers the whole period before referral"),
    Term("post_window_covered", "HES covers the whole period after referral"),
    Term("alive", "Alive throughout the period after referral"),
    Term("registered", "Registered with a practice throughout both periods"),
)

UNMATCHED_REASONS = (
    Term("no candidates in stratum", "No candidate in the same referral week"),
    Term("no candidate within caliper", "No candidate close enough (outside the caliper)"),
    Term("candidates used up", "Close candidates already matched to others"),
)

@dataclass(frozen=True)
class Threshold(Term):
    """Referrals progressing on at least `at_least` well-being measures."""

    at_least: int


PROGRESS_THRESHOLDS = (Threshold("at_least_1", "Progress on at least one measure", 1),
                       Threshold("at_least_4", "Progress on four or more measures", 4))

COST_BASES = (Term("naive", "Before and after (no comparison group)"),
              Term("matched", "Against the matched comparison group"))

#: The items costed once each (other admissions = in-patient minus emergency admissions), and their sum.
COST_ITEMS = (
    Term("emergency_admissions", "Emergency admissions"),
    Term("other_admissions", "Other (elective and day-case) admissions"),
    Term("ae_attendances", "A&E attendances"),
    Term("outpatient_appointments", "Outpatient appointments"),
    Term("total", "Total"),
)


@dataclass(frozen=True)
class Scenario(Term):
    """How long the benefit is counted: `years`, falling each year by `drop_off` of its first-year value."""

    years: int
    drop_off: float | None  # None: the benefit to date (no projection)


VALUE_SCENARIOS = (
    Scenario("to_date", "Benefits to date, if they last one year", 1, None),
    Scenario("drop_off_0", "Five years, benefits sustained", 5, 0.0),
    Scenario("drop_off_20", "Five years, benefits falling 20% a year", 5, 0.20),
    Scenario("drop_off_33", "Five years, benefits falling 33% a year", 5, 0.333),
)

SROI_COMPONENTS = (
    Term("wellbeing", "Well-being of referred patients"),
    Term("volunteering", "Volunteering in funded services"),
    Term("welfare", "Welfare benefits claimed"),
    Term("leverage", "Additional funding secured by providers"),
    Term("total", "Total"),
)

#: The mental-health pathway (MH runs), each step a subset of the one before from `discharge_review_due` on.
MH_PATHWAY_STEPS = (
    Term("referred", "Referred to the pilot"),
    Term("engaged", "Engaged in an initial meeting"),
    Term("took_up", "Took up a service"),
    Term("discharge_review_due", "Due a discharge review"),
    Term("discharged", "Discharged from secondary mental health care"),
    Term("discharge_observable_12m", "Discharged at least 12 months ago"),
    Term("discharge_sustained_12m", "Discharge sustained for 12 months"),
)

SMD_THRESHOLD = 0.1  # |SMD| below this is conventionally "balanced" (Austin 2009; cobalt's m.threshold)
QUARANTINE_WARNING_SHARE = 0.05  # share of a file's rows quarantined above which the supplier is asked why
EXPECTATIONS_SAMPLE_ROWS = 100_000  # staged rows the Great Expectations suites read at most (ADR 0004): the SQL rules see every row


def by_code(terms: tuple[Term, ...]) -> dict[str, Term]:
    return {t.code: t for t in terms}


def reference_tables() -> dict[str, pl.DataFrame]:
    """The lists the SQL rules join to, as tables (name -> rows), each with its reporting order."""
    def ordered(terms, column: str, **extra) -> pl.DataFrame:
        return pl.DataFrame({column: [t.code for t in terms], f"{column}_order": list(range(1, len(terms) + 1)),
                             **extra})

    return {
        "analysis.cohort_windows": ordered(COHORTS, "cohort", months=[c.months for c in COHORTS]),
        "analysis.measures": ordered(MEASURES, "measure"),
        "analysis.wellbeing_measures": ordered(WELLBEING_MEASURES, "measure"),
        "analysis.attrition_steps": ordered(ATTRITION_STEPS, "step"),
        "analysis.groups": ordered(GROUPS, "group"),
        "analysis.progress_thresholds": ordered(PROGRESS_THRESHOLDS, "measures_progressed",
                                                at_least=[t.at_least for t in PROGRESS_THRESHOLDS]),
        "analysis.sroi_components": ordered(SROI_COMPONENTS, "component"),
        "analysis.mh_pathway_steps": ordered(MH_PATHWAY_STEPS, "step"),
    }
