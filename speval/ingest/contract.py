"""The data contract (docs/contract/inputs.md) as declarations: one `FileSpec` per input file or sheet.

Validation (`speval.validate.rules`) compiles these declarations into set-based DuckDB SQL, so a rule is
written once, here, and read by people and by the machine alike. Column types:

- `str`   any non-blank text (identifiers, free text)
- `code`  text from a fixed code set (`codes`), compared as strings: `21` and `2A` alike
- `int`   whole number, optional range
- `float` decimal number, optional range
- `date`  ISO `YYYY-MM-DD` (CSV) or a UK date / Excel date (workbooks, normalised on read)
- `time`  `HH:MM`
- `money` an amount; workbooks may write `£1,234.50`

`required` columns must be present in the file (else the file is refused); `mandatory` columns must
also be non-blank in every row (else the row is quarantined). Rules may read the run's parameters
(`analysis.parameters`: coverage_start, cutoff of the HES delivery in use). See
docs/decisions/0004-validation-rules.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["str", "code", "int", "float", "date", "time", "money"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "str"
    mandatory: bool = False
    required: bool = True
    codes: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class RowRule:
    """A rule across columns of one row, as a DuckDB boolean over typed columns (NULL = not applicable)."""

    reason: str
    holds: str


@dataclass(frozen=True)
class FileSpec:
    name: str  # table name in raw/staged, e.g. "apc"
    source: Literal["hes", "outcome_tool", "provider_returns"]
    filename: str  # "apc.csv" or, for workbooks, the sheet name
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None  # (column, parent spec name): a row whose parent is missing is quarantined
    rules: tuple[RowRule, ...] = field(default_factory=tuple)
    # Cross-source rules, checked with the valid parent row as `parent` (after the reference check).
    parent_rules: tuple[RowRule, ...] = field(default_factory=tuple)

    @property
    def is_workbook_sheet(self) -> bool:
        return self.source == "provider_returns"

    @property
    def rows_required(self) -> bool:
        """A HES file or the referrals export with a header and no rows is refused: nothing can be evaluated
        from it (an empty provider sheet is normal)."""
        return self.source == "hes" or self.name == "referrals"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _c(name: str, kind: Kind = "str", **kw) -> Column:
    return Column(name, kind, **kw)


PERSON = _c("TOKEN_PERSON_ID", mandatory=True)
REFERRAL = _c("REFERRAL_ID", mandatory=True)


def within_coverage(column: str) -> RowRule:
    """A HES record dated outside the delivery's coverage (coverage_start to cutoff) cannot be in it."""
    return RowRule(
        f"{column} outside the delivery's coverage",
        f"{column} BETWEEN (SELECT coverage_start FROM analysis.parameters) AND (SELECT cutoff FROM analysis.parameters)",
    )

WELLBEING_MEASURES = (
    "FEELING_POSITIVE",
    "LIFESTYLE",
    "LOOKING_AFTER_YOURSELF",
    "MANAGING_SYMPTOMS",
    "WORK_VOLUNTEERING_SOCIAL",
    "MONEY",
    "WHERE_YOU_LIVE",
    "FAMILY_FRIENDS",
)

PERSONS = FileSpec(
    "persons",
    "hes",
    "persons.csv",
    (
        PERSON,
        _c("YEAR_OF_BIRTH", "int", mandatory=True, min=1880, max=2100),
        _c("SEX", "code", mandatory=True, codes=("1", "2", "9")),
        _c("LSOA11"),
        _c("IMD_DECILE", "int", min=1, max=10),
        _c("GPPRAC", mandatory=True),
        _c("LTC_COUNT", "int", min=0),
        _c("RISK_SCORE", "float", min=0, max=100),
        _c("REGISTERED_FROM", "date", mandatory=True),
        _c("REGISTERED_TO", "date"),
        _c("DATE_OF_DEATH", "date"),
    ),
    key=("TOKEN_PERSON_ID",),
    rules=(
        RowRule("REGISTERED_TO before REGISTERED_FROM", "REGISTERED_TO >= REGISTERED_FROM"),
        RowRule("DATE_OF_DEATH before YEAR_OF_BIRTH", "year(DATE_OF_DEATH) >= YEAR_OF_BIRTH"),
    ),
)

APC = FileSpec(
    "apc",
    "hes",
    "apc.csv",
    (
        PERSON,
        _c("EPIKEY", mandatory=True),
        _c("PROCODE3", mandatory=True),
        _c("ADMIDATE", "date", mandatory=True),
        _c("EPISTART", "date", mandatory=True),
        _c("EPIEND", "date"),
        _c("DISDATE", "date"),
        _c("EPIORDER", "int", min=1),
        _c("EPISTAT", "code", mandatory=True),
        _c("ADMIMETH", "code", mandatory=True),
        _c("CLASSPAT", "code", mandatory=True, codes=("1", "2", "3", "4", "5")),
        _c("DISMETH", "code"),
        _c("DIAG_4_01"),
    ),
    key=("EPIKEY",),
    parent=("TOKEN_PERSON_ID", "persons"),
    rules=(
        RowRule("EPISTART before ADMIDATE", "EPISTART >= ADMIDATE"),
        RowRule("EPIEND before EPISTART", "EPIEND >= EPISTART"),
        RowRule("DISDATE before ADMIDATE", "DISDATE >= ADMIDATE"),
        RowRule("ADMIMETH is not a 2-character code", "regexp_full_match(ADMIMETH, '[0-9A-Z]{2}')"),
        within_coverage("ADMIDATE"),
        within_coverage("EPISTART"),
    ),
)

AE = FileSpec(
    "ae",
    "hes",
    "ae.csv",
    (
        PERSON,
        _c("AEKEY", mandatory=True),
        _c("PROCODE3", mandatory=True),
        _c("ARRIVALDATE", "date", mandatory=True),
        _c("ARRIVALTIME", "time", mandatory=True),
        _c("AEATTENDCAT", "code", mandatory=True, codes=("1", "2", "3")),
        _c("AEARRIVALMODE", "code"),
        _c("AEATTENDDISP", "code"),
    ),
    key=("AEKEY",),
    parent=("TOKEN_PERSON_ID", "persons"),
    rules=(within_coverage("ARRIVALDATE"),),
)

OP = FileSpec(
    "op",
    "hes",
    "op.csv",
    (
        PERSON,
        _c("ATTENDKEY", mandatory=True),
        _c("PROCODE3", mandatory=True),
        _c("APPTDATE", "date", mandatory=True),
        _c("ATTENDED", "code", mandatory=True, codes=("0", "2", "3", "4", "5", "6", "7", "9")),
        _c("FIRSTATT", "code", codes=("1", "2", "3", "4")),
        _c("TRETSPEF", "code"),
    ),
    key=("ATTENDKEY",),
    parent=("TOKEN_PERSON_ID", "persons"),
    rules=(within_coverage("APPTDATE"),),
)

REFERRALS = FileSpec(
    "referrals",
    "outcome_tool",
    "referrals.csv",
    (
        REFERRAL,
        PERSON,
        _c("PROGRAMME", "code", mandatory=True, codes=("LTC", "MH")),
        _c("REFERRAL_DATE", "date", mandatory=True),
        _c("REFERRER_PRACTICE"),
        _c("REFERRAL_SOURCE"),
        _c("ADVISER_ID"),
        _c("STATUS", "code", codes=("Referred", "Engaged", "Took up", "Declined", "Closed")),
        _c("CLOSED_DATE", "date"),
        _c("MH_DISCHARGE_REVIEW_DATE", "date", required=False),
        _c("MH_DISCHARGE_DATE", "date", required=False),
        _c("MH_REACCESS_DATE", "date", required=False),
    ),
    key=("REFERRAL_ID",),
    rules=(
        RowRule("CLOSED_DATE before REFERRAL_DATE", "CLOSED_DATE >= REFERRAL_DATE"),
        # The mental-health pathway's dates (ADR 0020): none on an LTC referral; none before the referral; a
        # re-access not before the discharge it follows.
        RowRule("MH dates on an LTC referral", "PROGRAMME = 'MH' OR (MH_DISCHARGE_REVIEW_DATE IS NULL AND "
                "MH_DISCHARGE_DATE IS NULL AND MH_REACCESS_DATE IS NULL)"),
        RowRule("MH_DISCHARGE_REVIEW_DATE before REFERRAL_DATE", "MH_DISCHARGE_REVIEW_DATE >= REFERRAL_DATE"),
        RowRule("MH_DISCHARGE_DATE before REFERRAL_DATE", "MH_DISCHARGE_DATE >= REFERRAL_DATE"),
        RowRule("MH_REACCESS_DATE before REFERRAL_DATE", "MH_REACCESS_DATE >= REFERRAL_DATE"),
        RowRule("MH_REACCESS_DATE before MH_DISCHARGE_DATE", "MH_REACCESS_DATE >= MH_DISCHARGE_DATE"),
    ),
)

ONWARD_REFERRALS = FileSpec(
    "onward_referrals",
    "outcome_tool",
    "onward_referrals.csv",
    (
        _c("ONWARD_ID", mandatory=True),
        REFERRAL,
        _c("ONWARD_DATE", "date", mandatory=True),
        _c("SERVICE_CODE"),
        _c("SERVICE_NAME"),
        _c("PROVIDER_CODE"),
        _c("SERVICE_TYPE"),
        _c("FUNDING", "code", mandatory=True, codes=("Funded", "Non-funded", "Statutory")),
    ),
    key=("ONWARD_ID",),
    parent=("REFERRAL_ID", "referrals"),
    parent_rules=(RowRule("ONWARD_DATE before its referral's REFERRAL_DATE", 'checked."ONWARD_DATE" >= parent."REFERRAL_DATE"'),),
)

ASSESSMENTS = FileSpec(
    "assessments",
    "outcome_tool",
    "assessments.csv",
    (
        _c("ASSESSMENT_ID", mandatory=True),
        REFERRAL,
        _c("ASSESSMENT_DATE", "date", mandatory=True),
        _c("ASSESSMENT_TYPE", "code", mandatory=True, codes=("Baseline", "Review")),
        *(_c(m, "int", min=1, max=5) for m in WELLBEING_MEASURES),
    ),
    key=("ASSESSMENT_ID",),
    parent=("REFERRAL_ID", "referrals"),
    parent_rules=(
        RowRule("ASSESSMENT_DATE before its referral's REFERRAL_DATE", 'checked."ASSESSMENT_DATE" >= parent."REFERRAL_DATE"'),
    ),
)

PROVIDER_COVER = FileSpec(
    "provider_cover",
    "provider_returns",
    "Cover",
    (_c("FIELD", mandatory=True), _c("VALUE")),
)

PROVIDER_ACTIVITY = FileSpec(
    "provider_activity",
    "provider_returns",
    "Activity",
    (
        REFERRAL,
        _c("SERVICE_CODE"),
        _c("START_DATE", "date"),
        _c("END_DATE", "date"),
        _c("SESSIONS_ATTENDED", "int", min=0),
        _c("OUTCOME"),
    ),
    parent=("REFERRAL_ID", "referrals"),
    rules=(RowRule("END_DATE before START_DATE", "END_DATE >= START_DATE"),),
)

PROVIDER_VOLUNTEERING = FileSpec(
    "provider_volunteering",
    "provider_returns",
    "Volunteering",
    (
        _c("MONTH", "date", mandatory=True),
        _c("VOLUNTEERS", "int", min=0),
        _c("HOURS", "float", min=0),
    ),
)

PROVIDER_WELFARE = FileSpec(
    "provider_welfare",
    "provider_returns",
    "Welfare",
    (
        REFERRAL,
        _c("BENEFIT_TYPE", mandatory=True),
        _c("AWARD_DATE", "date"),
        _c("WEEKLY_AMOUNT_GBP", "money", mandatory=True, min=0),
    ),
    parent=("REFERRAL_ID", "referrals"),
)

PROVIDER_FUNDING = FileSpec(
    "provider_funding",
    "provider_returns",
    "Funding",
    (
        _c("FUNDER", mandatory=True),
        _c("AMOUNT_GBP", "money", mandatory=True, min=0),
        _c("DATE_AWARDED", "date"),
        _c("ATTRIBUTED_TO_PROGRAMME", "code", codes=("Y", "N")),
    ),
)

HES_FILES = (PERSONS, APC, AE, OP)
OUTCOME_TOOL_FILES = (REFERRALS, ONWARD_REFERRALS, ASSESSMENTS)
PROVIDER_SHEETS = (PROVIDER_COVER, PROVIDER_ACTIVITY, PROVIDER_VOLUNTEERING, PROVIDER_WELFARE, PROVIDER_FUNDING)
# Also the validation order: a parent (persons, referrals) comes before the files that reference it.
ALL_SPECS = HES_FILES + OUTCOME_TOOL_FILES + PROVIDER_SHEETS
SPECS = {s.name: s for s in ALL_SPECS}
