"""Synthetic demo data in the shapes of CONTRACT.md section 1, with a planted truth.

``generate(out, scale, seed)`` simulates one timeline (April 2011 to June 2017) for a
risk-stratified, LTC-flagged population of 36 GP practices, refers some of them to the
social prescribing programmes (LTC Sep 2012 - Mar 2014, MH Apr 2015 - Mar 2016) *selected on a
recent spike in hospital use*, applies planted rate ratios after referral, and then cuts the
timeline into cumulative HES and outcome-tool deliveries plus quarterly provider workbooks.

The generative model, its calibration and the planted defects are described in
``docs/decisions/0002-synthetic-demo-data.md``; ``truth.json`` and ``truth_patients.csv`` are
written beside the data so tests can check the pipeline against the truth.

Everything is vectorised with numpy/polars (loops run over months, measures, deliveries and
workbooks only; the xlsx writer necessarily writes row by row).  Same seed and scale give
byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl
import xlsxwriter

GENERATOR_VERSION = "1.0.0"

# --------------------------------------------------------------------------------------
# The planted truth
# --------------------------------------------------------------------------------------

#: Rate ratios applied to a referred person's latent rates from the index date onwards.
RATE_RATIOS: dict[str, float] = {
    "emergency_admissions": 0.85,
    "elective_admissions": 1.00,
    "ae_attendances": 0.90,
    "outpatient_appointments": 0.95,
}

#: Measure names used by the pipeline (CONTRACT.md section 3), in output order.
PIPELINE_MEASURES = (
    "inpatient_admissions",
    "emergency_admissions",
    "ae_attendances",
    "outpatient_appointments",
)
WINDOWS = (6, 12)

# --------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------

COVERAGE_START = dt.date(2011, 4, 1)
#: Cumulative HES / outcome-tool deliveries: key -> cut-off.
DELIVERIES: dict[str, dt.date] = {
    "2013Q2": dt.date(2013, 6, 30),
    "2013Q4": dt.date(2013, 12, 31),
    "2014Q4": dt.date(2014, 12, 31),
    "2016Q4": dt.date(2016, 12, 31),
}
EXTRACT_LAG_DAYS = 17
#: Provider-return quarters per programme.
LTC_RETURN_QUARTERS = ("2012Q3", "2012Q4", "2013Q1", "2013Q2", "2013Q3", "2013Q4", "2014Q1")
MH_RETURN_QUARTERS = ("2015Q2", "2015Q3", "2015Q4", "2016Q1")

_EPOCH = np.datetime64("1970-01-01", "D")
_SIM_START = np.datetime64("2011-04", "M")
_SIM_MONTHS = 75  # 2011-04 .. 2017-06: covers every 12-month post window of an MH referral
_MONTH_START = (_SIM_START + np.arange(_SIM_MONTHS + 1)).astype("datetime64[D]").astype(np.int64)
_DIM = np.diff(_MONTH_START)
_NEVER = np.int64(10**6)  # a day number far in the future ("no date")


def _day(d: dt.date | str) -> int:
    return int((np.datetime64(str(d), "D") - _EPOCH).astype(np.int64))


def _month_index(day: int | dt.date | str) -> int:
    d = np.datetime64(str(day), "D") if not isinstance(day, (int, np.integer)) else _EPOCH + day
    return int((d.astype("datetime64[M]") - _SIM_START).astype(np.int64))


_CUTOFF_DAYS = np.array([_day(c) for c in DELIVERIES.values()], dtype=np.int64)
_LAST_DAY = int(_CUTOFF_DAYS[-1])
_COVER_DAY = _day(COVERAGE_START)
_LTC_START, _LTC_END = _day("2012-09-01"), _day("2014-03-31")
_MH_START, _MH_END = _day("2015-04-01"), _day("2016-03-31")


def add_months(days: np.ndarray, n) -> np.ndarray:
    """Day numbers + n calendar months, clamped to the month end (Jan 31 + 1 month = Feb 28)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.asarray(n, dtype=np.int64)
    start2 = m2.astype("datetime64[D]")
    dim2 = ((m2 + 1).astype("datetime64[D]") - start2).astype(np.int64)
    return (start2 + np.minimum(dom, dim2 - 1)).astype(np.int64)


def _months_of(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return (d.astype("datetime64[M]") - _SIM_START).astype(np.int64)


def _quarter_key(days: np.ndarray) -> np.ndarray:
    """Integer quarter key year*4 + (q-1)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return (1970 * 12 + months) // 3


def _qkey(label: str) -> int:
    return int(label[:4]) * 4 + int(label[5]) - 1


def _qbounds(label: str) -> tuple[int, int]:
    y, q = int(label[:4]), int(label[5])
    start = dt.date(y, 3 * q - 2, 1)
    end = dt.date(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1)
    return _day(start), _day(end)


def _first_delivery(days: np.ndarray) -> np.ndarray:
    """Index of the first delivery whose cut-off is on or after each day (4 = none)."""
    return np.searchsorted(_CUTOFF_DAYS, np.asarray(days, dtype=np.int64), side="left")


def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent, named random stream (changing one section never perturbs another)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _alloc(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (cumulative rounding, exact sum)."""
    cum = np.round(np.cumsum(weights) / np.sum(weights) * total).astype(np.int64)
    return np.diff(np.concatenate([[0], cum]))


def _pick(rng: np.random.Generator, codes, probs, n: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(codes), size=n, p=p / p.sum())


# --------------------------------------------------------------------------------------
# Model parameters
# --------------------------------------------------------------------------------------

N_PRACTICES = 36
N_REFERRING = 29
#: Monthly LTC referral volumes Sep 2012 - Mar 2014 at scale 1 (808 in the first 12 months).
LTC_MONTHLY = np.array([22, 38, 48, 52, 58, 66, 74, 80, 86, 90, 95, 99, 110, 115, 118, 100, 118, 118, 120])
#: Monthly MH referral volumes Apr 2015 - Mar 2016 at scale 1 (156 in the year).
MH_MONTHLY = np.array([8, 10, 12, 12, 13, 14, 14, 14, 12, 15, 16, 16])
POOL_MULTIPLIER = 11.5  # never-referred persons per referred person (>= 10 after unlinking)

MEASURES = ("emergency", "elective", "ae", "op")
_RR = np.array(
    [
        RATE_RATIOS["emergency_admissions"],
        RATE_RATIOS["elective_admissions"],
        RATE_RATIOS["ae_attendances"],
        RATE_RATIOS["outpatient_appointments"],
    ]
)


@dataclass(frozen=True)
class HealthModel:
    """Latent monthly rates: base_k(person) * exp(load_k * u_t - load_k^2 sigma^2 / 2) * season_k(t)."""

    # annual base rate at frailty 0 and LTC_COUNT 2, per measure (emergency, elective, A&E, OP)
    base_annual: tuple = (0.20, 0.125, 0.46, 0.58)
    frailty_loading: tuple = (0.75, 0.45, 0.65, 0.45)
    ltc_loading: tuple = (0.12, 0.08, 0.10, 0.10)
    shock_loading: tuple = (1.0, 0.6, 0.95, 1.0)
    winter_amplitude: tuple = (0.12, -0.05, 0.08, 0.0)
    rho: float = 0.8  # monthly AR(1) coefficient of the shared log-rate shock
    sigma: float = 0.7  # stationary s.d. of the shared log-rate shock
    # referral selection: weight = practice * exp(beta_risk(t) * z(risk)) * (1 + recent)^alpha
    alpha_recent: float = 0.55
    beta_risk_start: float = 1.0
    beta_risk_end: float = 0.3
    recent_weights: tuple = (0.75, 0.4, 0.55, 1.0)  # events in the 3 months before the month


MODEL = HealthModel()

# HES code sets (strings)
TRUSTS = ("RFR", "RHQ", "RP5", "RFF")
EMERGENCY_ADMIMETH = ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")
EMERGENCY_ADMIMETH_P = (0.70, 0.05, 0.02, 0.05, 0.01, 0.07, 0.04, 0.03, 0.002, 0.028)
EMERGENCY_DIAG = ("J440", "J441", "I500", "J189", "N390", "R074", "I219", "I489", "E119", "R55X", "K297", "S720", "L031", "J181")
ELECTIVE_DIAG = ("H251", "K573", "M170", "N400", "K802", "I251", "D126", "C61X", "K409", "M179")
REGULAR_DIAG = ("Z491", "Z511", "D649")
PROVISIONAL_DIAG = ("R69X", "R69X", "R688", "Z539")
AE_DISP = ("01", "02", "03", "06", "07", "11", "12", "14")
AE_DISP_P = (0.26, 0.30, 0.28, 0.05, 0.02, 0.03, 0.04, 0.02)
TRETSPEF = ("100", "101", "110", "120", "130", "300", "301", "320", "330", "340", "361", "370", "410", "430", "502", "800")
TRETSPEF_P = (0.06, 0.06, 0.09, 0.05, 0.11, 0.08, 0.07, 0.12, 0.05, 0.08, 0.03, 0.04, 0.04, 0.06, 0.02, 0.04)

# Outcome tool
LTC_SOURCES = ("GP", "ICMT", "Practice nurse", "Community matron")
LTC_SOURCES_P = (0.50, 0.25, 0.15, 0.10)
MH_SOURCES = ("RDASH community mental health team", "RDASH recovery team")
MH_SOURCES_P = (0.8, 0.2)

# funded providers: code, name, programmes, first LTC return quarter, grant (GBP)
PROVIDERS = (
    ("VCS01", "Rother Valley Advice Centre", ("LTC",), "2012Q3", 42500.0),
    ("VCS02", "Dearne Valley Community Hub", ("LTC",), "2012Q3", 38000.0),
    ("VCS03", "Maltby Active Lives", ("LTC",), "2012Q3", 27250.0),
    ("VCS04", "Wath and Swinton Befriending Scheme", ("LTC", "MH"), "2012Q3", 31800.0),
    ("VCS05", "Kimberworth Independent Living Service", ("LTC", "MH"), "2012Q3", 45000.0),
    ("VCS06", "Rotherham Community Transport Link", ("LTC",), "2012Q4", 22400.0),
    ("VCS07", "Thrybergh Carers Network", ("LTC", "MH"), "2012Q4", 18750.0),
    ("VCS08", "Brinsworth Arts and Wellbeing", ("LTC", "MH"), "2013Q1", 12500.0),
    ("VCS09", "Rotherham Peer Support Collective", ("MH",), "2015Q2", 24600.0),
    ("VCS10", "Aston Community Allotments", ("MH",), "2015Q2", 16300.0),
)
MH_GRANTS = {"VCS04": 14200.0, "VCS05": 19850.0, "VCS07": 9600.0, "VCS08": 11250.0, "VCS09": 24600.0, "VCS10": 16300.0}

# services: code, name, provider, type, funding, programmes, weight
SERVICES = (
    ("SVC01", "Welfare benefits advice", "VCS01", "Information and advice", "Funded", ("LTC",), 0.12),
    ("SVC02", "Debt and money advice", "VCS01", "Information and advice", "Funded", ("LTC",), 0.06),
    ("SVC03", "Lunch and social club", "VCS02", "Community activity", "Funded", ("LTC",), 0.14),
    ("SVC04", "Craft and conversation group", "VCS02", "Community activity", "Funded", ("LTC",), 0.07),
    ("SVC05", "Chair-based exercise", "VCS03", "Physical activity", "Funded", ("LTC",), 0.07),
    ("SVC06", "Health walks", "VCS03", "Physical activity", "Funded", ("LTC",), 0.05),
    ("SVC07", "Home befriending", "VCS04", "Befriending", "Funded", ("LTC", "MH"), 0.09),
    ("SVC08", "Telephone befriending", "VCS04", "Befriending", "Funded", ("LTC", "MH"), 0.05),
    ("SVC09", "Enabling support", "VCS05", "Enabling", "Funded", ("LTC", "MH"), 0.08),
    ("SVC10", "Confidence building", "VCS05", "Enabling", "Funded", ("LTC", "MH"), 0.05),
    ("SVC11", "Door-to-door transport", "VCS06", "Community transport", "Funded", ("LTC",), 0.10),
    ("SVC12", "Carers support group", "VCS07", "Carers support", "Funded", ("LTC", "MH"), 0.04),
    ("SVC13", "Carers information", "VCS07", "Information and advice", "Funded", ("LTC", "MH"), 0.03),
    ("SVC14", "Arts for wellbeing", "VCS08", "Community activity", "Funded", ("LTC", "MH"), 0.04),
    ("SVC15", "Singing group", "VCS08", "Community activity", "Funded", ("LTC", "MH"), 0.03),
    ("SVC16", "Peer support group", "VCS09", "Community engagement", "Funded", ("MH",), 0.12),
    ("SVC17", "Recovery college courses", "VCS09", "Education and training", "Funded", ("MH",), 0.08),
    ("SVC18", "Therapeutic gardening", "VCS10", "Therapeutic services", "Funded", ("MH",), 0.08),
    ("SVC19", "Community hub drop-in", "VCS10", "Community hubs", "Funded", ("MH",), 0.07),
    ("NF01", "Library reading group", "VCS11", "Community activity", "Non-funded", ("LTC", "MH"), 0.2),
    ("NF02", "Church lunch club", "VCS12", "Community activity", "Non-funded", ("LTC", "MH"), 0.2),
    ("NF03", "Citizens advice drop-in", "VCS13", "Information and advice", "Non-funded", ("LTC", "MH"), 0.25),
    ("NF04", "Bowls club", "VCS14", "Physical activity", "Non-funded", ("LTC", "MH"), 0.1),
    ("NF05", "Good Neighbours scheme", "VCS15", "Befriending", "Non-funded", ("LTC", "MH"), 0.15),
    ("NF06", "Men's shed", "VCS16", "Community activity", "Non-funded", ("LTC", "MH"), 0.1),
    ("ST01", "Adult social care assessment", "RMBC", "Social care", "Statutory", ("LTC", "MH"), 0.35),
    ("ST02", "Home fire safety check", "SYFR", "Safety", "Statutory", ("LTC", "MH"), 0.15),
    ("ST03", "Community falls service", "RFR", "Health", "Statutory", ("LTC",), 0.2),
    ("ST04", "Housing adaptations", "RMBC", "Housing", "Statutory", ("LTC", "MH"), 0.2),
    ("ST05", "Talking therapies", "RXE", "Health", "Statutory", ("LTC", "MH"), 0.1),
)

WELLBEING = (
    # measure, baseline mean, % low (<=2), % progressed, % of low scorers progressed (seeds Table 2)
    ("FEELING_POSITIVE", 3.08, 30, 35, 61),
    ("LIFESTYLE", 3.39, 19, 25, 65),
    ("LOOKING_AFTER_YOURSELF", 3.58, 14, 24, 60),
    ("MANAGING_SYMPTOMS", 3.43, 18, 21, 57),
    ("WORK_VOLUNTEERING_SOCIAL", 2.49, 45, 49, 54),
    ("MONEY", 4.05, 10, 21, 76),
    ("WHERE_YOU_LIVE", 4.07, 8, 20, 78),
    ("FAMILY_FRIENDS", 3.71, 13, 27, 69),
)

BENEFITS = (
    ("Attendance Allowance", (53.00, 79.15)),
    ("Personal Independence Payment", (53.00, 79.15)),
    ("Disability Living Allowance", (21.00, 53.00, 79.15)),
    ("Carer's Allowance", (58.45,)),
    ("Pension Credit", None),
    ("Council Tax Support", None),
)
FUNDERS = ("Big Lottery Fund", "Rotherham MBC Public Health", "Lloyds Bank Foundation", "Awards for All", "South Yorkshire Community Foundation")

# Planted defects (fixed counts, independent of scale)
N_DUP_APC_2013Q4 = 5
N_DUP_AE_2013Q4 = 4
N_UNKNOWN_ACTIVITY_REFS = 2
N_LATE_REFERRALS = 3  # per export that has referrals within 14 days after its cut-off


# --------------------------------------------------------------------------------------
# Small formatting helpers (polars)
# --------------------------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    s = pl.Series(values=np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit(prefix) + s).to_series()


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pl.Series:
    s = pl.Series(values=np.asarray(days, dtype=np.int32)).cast(pl.Date)
    if valid is not None:
        s = s.zip_with(pl.Series(values=np.asarray(valid, dtype=bool)), pl.Series(values=[None] * len(s), dtype=pl.Date))
    return s


def _codes(codes, idx: np.ndarray) -> pl.Series:
    return pl.Series(values=list(codes), dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def _hex_tokens(values: np.ndarray) -> np.ndarray:
    """'T' + 12 lower-case hex digits for each 48-bit integer."""
    lut = np.frombuffer(b"0123456789abcdef", dtype="S1")
    v = np.asarray(values, dtype=np.uint64)
    digits = np.stack([(v >> np.uint64(4 * (11 - j))) & np.uint64(15) for j in range(12)], axis=1)
    chars = np.concatenate([np.full((len(v), 1), b"T", dtype="S1"), lut[digits.astype(np.int64)]], axis=1)
    return np.ascontiguousarray(chars).view("S13").ravel().astype("U13")


def _write_csv(df: pl.DataFrame, path: pathlib.Path, float_precision: int | None = None) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, null_value="", date_format="%Y-%m-%d", float_precision=float_precision, line_terminator="\n")
    return df.height


def _write_json(obj, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# 1. Population
# --------------------------------------------------------------------------------------


@dataclass
class Population:
    n: int
    practice: np.ndarray  # 0..35
    yob: np.ndarray
    sex: np.ndarray  # codes index into ("1","2","9")
    lsoa: np.ndarray  # int code 600..799
    imd: np.ndarray
    ltc: np.ndarray
    risk: np.ndarray  # one decimal
    frailty: np.ndarray
    reg_from: np.ndarray
    reg_to: np.ndarray  # _NEVER = still registered
    death: np.ndarray  # _NEVER = alive
    referring: np.ndarray  # per practice bool
    practice_start: np.ndarray  # per practice month index referrals may start (large = never)
    practice_mult: np.ndarray
    practice_adviser: np.ndarray


def _population(seed: int, n: int) -> Population:
    rng = _rng(seed, "population")
    size = rng.gamma(5.0, 1.0, N_PRACTICES)
    practice = rng.choice(N_PRACTICES, size=n, p=size / size.sum())
    referring = np.zeros(N_PRACTICES, dtype=bool)
    referring[rng.choice(N_PRACTICES, N_REFERRING, replace=False)] = True
    # 18 practices refer from Sep 2012, the rest join over the following year (28 by Sep 2013)
    order = rng.permutation(np.nonzero(referring)[0])
    start = np.full(N_PRACTICES, 10**6, dtype=np.int64)
    sep12 = _month_index("2012-09-01")
    start[order[:18]] = sep12
    start[order[18:28]] = sep12 + np.sort(rng.integers(1, 12, 10))
    start[order[28:]] = _month_index("2013-11-01")
    practice_mult = rng.lognormal(0.0, 0.45, N_PRACTICES)
    adviser = rng.integers(0, 5, N_PRACTICES)

    # small areas: each LSOA has one IMD decile (skewed to the most deprived)
    n_lsoa = 200
    imd_p = np.array([0.20, 0.16, 0.13, 0.11, 0.09, 0.08, 0.07, 0.06, 0.05, 0.05])
    lsoa_imd = rng.choice(10, size=n_lsoa, p=imd_p) + 1
    lsoa_practice = rng.choice(N_PRACTICES, size=n_lsoa)
    # a person lives in an LSOA "near" their practice: 80% one of the practice's LSOAs
    lsoa = rng.integers(0, n_lsoa, n)
    own = rng.random(n) < 0.8
    # pick among the practice's LSOAs by sorting LSOAs by practice
    by_prac = np.argsort(lsoa_practice, kind="stable")
    counts = np.bincount(lsoa_practice, minlength=N_PRACTICES)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts[practice] > 0
    pick = first[practice] + (rng.random(n) * np.maximum(counts[practice], 1)).astype(np.int64)
    pick = np.minimum(pick, n_lsoa - 1)
    use = own & has
    lsoa[use] = by_prac[pick[use]]
    imd = lsoa_imd[lsoa]

    yob = np.clip(np.round(rng.normal(1942.0, 11.0, n)), 1915, 1992).astype(np.int64)
    sex = rng.choice(3, size=n, p=[0.47, 0.525, 0.005])
    frailty = rng.normal(0.0, 1.0, n) + 0.02 * (1945 - yob) + 0.04 * (5 - imd)
    ltc = np.clip(rng.poisson(np.exp(0.65 + 0.3 * frailty)), 0, 8)
    ltc = np.where((ltc == 0) & (rng.random(n) < 0.8), 1, ltc)  # LTC-flagged: few have no coded LTC
    logit = -1.7 + 0.95 * frailty + 0.15 * (ltc - 2) + rng.normal(0.0, 0.35, n)
    risk = np.round(np.clip(100.0 / (1.0 + np.exp(-logit)), 0.1, 99.9), 1)

    reg_from = _day("1975-01-01") + rng.integers(0, _day("2011-03-31") - _day("1975-01-01"), n)
    late = rng.random(n) < 0.05
    reg_from[late] = _day("2011-04-02") + rng.integers(0, _day("2013-06-30") - _day("2011-04-02"), late.sum())
    # deaths: annual hazard ~1% rising with frailty (a few % by 2016), never before registration
    hazard = 0.008 * np.exp(0.7 * frailty) / 365.25
    death = _COVER_DAY + np.floor(rng.exponential(1.0 / hazard)).astype(np.int64)
    death = np.where((death <= _LAST_DAY) & (death > reg_from), death, _NEVER)
    reg_to = np.full(n, _NEVER, dtype=np.int64)
    dereg = (rng.random(n) < 0.03) & (death == _NEVER)
    reg_to[dereg] = _day("2011-06-01") + rng.integers(0, _LAST_DAY - _day("2011-06-01"), dereg.sum())
    reg_to = np.where(reg_to > reg_from, reg_to, _NEVER)
    return Population(n, practice, yob, sex, lsoa + 600, imd, ltc, risk, frailty, reg_from, reg_to, death,
                      referring, start, practice_mult, adviser)


# --------------------------------------------------------------------------------------
# 2. Latent health and monthly event counts
# --------------------------------------------------------------------------------------


def _shocks(seed: int, n: int) -> np.ndarray:
    rng = _rng(seed, "shocks")
    m = MODEL
    u = np.empty((n, _SIM_MONTHS), dtype=np.float32)
    u[:, 0] = rng.normal(0.0, m.sigma, n)
    innov = m.sigma * np.sqrt(1.0 - m.rho**2)
    for t in range(1, _SIM_MONTHS):
        u[:, t] = m.rho * u[:, t - 1] + rng.normal(0.0, innov, n).astype(np.float32)
    return u


def _base_monthly(pop: Population, k: int) -> np.ndarray:
    m = MODEL
    return (m.base_annual[k] / 12.0) * np.exp(m.frailty_loading[k] * pop.frailty + m.ltc_loading[k] * (pop.ltc - 2))


def _season(k: int) -> np.ndarray:
    cal_month = (np.arange(_SIM_MONTHS) + 3) % 12  # 0 = January (simulation starts in April)
    return 1.0 + MODEL.winter_amplitude[k] * np.cos(2 * np.pi * cal_month / 12.0)


def _rates(pop: Population, u: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Latent monthly rate (no effect, no death) for measure k; rows selects persons."""
    m = MODEL
    base = _base_monthly(pop, k)
    uu = u if rows is None else u[rows]
    b = base if rows is None else base[rows]
    lo = m.shock_loading[k]
    return b[:, None] * np.exp(lo * uu.astype(np.float64) - 0.5 * (lo * m.sigma) ** 2) * _season(k)[None, :]


def _counts(seed: int, pop: Population, u: np.ndarray) -> list[np.ndarray]:
    out = []
    for k, name in enumerate(MEASURES):
        rng = _rng(seed, f"counts-{name}")
        out.append(rng.poisson(_rates(pop, u, k)).astype(np.int16))
    return out


# --------------------------------------------------------------------------------------
# 3. Referral: selected on a recent spike
# --------------------------------------------------------------------------------------


def _weekday(days: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    dow = (days + 3) % 7  # 0 = Monday
    d = days.copy()
    sat, sun = dow == 5, dow == 6
    d[sat] = np.where(d[sat] - 1 >= lo[sat], d[sat] - 1, d[sat] + 2)
    d[sun] = np.where(d[sun] + 1 <= hi[sun], d[sun] + 1, d[sun] - 2)
    return d


def _select(seed, pop, counts, programme, monthly, first_month, already) -> tuple[np.ndarray, np.ndarray]:
    """Sample each month's referrals without replacement with weight ~ hazard (Efraimidis-Spirakis)."""
    rng = _rng(seed, f"select-{programme}")
    m = MODEL
    signal = sum(w * c.astype(np.float32) for w, c in zip(m.recent_weights, counts))
    csum = np.concatenate([np.zeros((pop.n, 1), dtype=np.float32), np.cumsum(signal, axis=1)], axis=1)
    rz = (pop.risk - pop.risk.mean()) / pop.risk.std()
    chosen = np.zeros(pop.n, dtype=bool) | already
    persons, dates = [], []
    n_months = len(monthly)
    for i, k in enumerate(monthly):
        t = first_month + i
        ms, me = int(_MONTH_START[t]), int(_MONTH_START[t + 1] - 1)
        elig = (~chosen) & (pop.reg_from <= ms) & (pop.reg_to > me) & (pop.death > me)
        if programme == "LTC":
            elig &= pop.referring[pop.practice] & (pop.practice_start[pop.practice] <= t)
            beta = m.beta_risk_start + (m.beta_risk_end - m.beta_risk_start) * i / max(n_months - 1, 1)
            w = pop.practice_mult[pop.practice] * np.exp(beta * rz)
        else:  # MH: RDASH refers younger service users from any practice
            w = np.exp(0.4 * rz + 0.03 * (pop.yob - 1945))
        recent = csum[:, t] - csum[:, t - 3]
        w = w * (1.0 + recent) ** m.alpha_recent
        key = np.where(elig, np.log(rng.random(pop.n)) / w, -np.inf)
        k = int(min(k, elig.sum()))
        if k == 0:
            continue
        idx = np.sort(np.argpartition(-key, k - 1)[:k])
        day = ms + (rng.random(k) * (me - ms + 1)).astype(np.int64)
        day = _weekday(day, np.full(k, ms), np.full(k, me))
        chosen[idx] = True
        persons.append(idx)
        dates.append(day)
    if not persons:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(persons), np.concatenate(dates)


# --------------------------------------------------------------------------------------
# 4. Event expansion (with the planted effect)
# --------------------------------------------------------------------------------------


def _expand(seed: int, name: str, counts: np.ndarray, pop: Population, index_day: np.ndarray, rr: float):
    rng = _rng(seed, f"expand-{name}")
    p, t = np.nonzero(counts)
    rep = counts[p, t].astype(np.int64)
    p = np.repeat(p, rep)
    t = np.repeat(t, rep)
    day = _MONTH_START[t] + (rng.random(len(p)) * _DIM[t]).astype(np.int64)
    thin = rng.random(len(p))
    keep = (day <= pop.death[p]) & (day <= _LAST_DAY)
    keep &= ~((day >= index_day[p]) & (thin >= rr))
    return p[keep], day[keep]


# --------------------------------------------------------------------------------------
# 5. HES tables (full timeline, with provisional values for revisions and ghost records)
# --------------------------------------------------------------------------------------


def _revision_mask(rng, first_d: np.ndarray, eligible: np.ndarray, share: float, minimum: int) -> np.ndarray:
    """Pick records per first-delivery (0..2) to be revised in the next delivery."""
    mask = np.zeros(len(first_d), dtype=bool)
    for d in range(len(DELIVERIES) - 1):
        cand = np.nonzero(eligible & (first_d == d))[0]
        if len(cand) == 0:
            continue
        k = min(len(cand), max(minimum, int(round(share * len(cand)))))
        mask[rng.choice(cand, k, replace=False)] = True
    return mask


def _ghost_sources(rng, first_d: np.ndarray, eligible: np.ndarray, share: float, minimum: int) -> np.ndarray:
    out = []
    for d in range(len(DELIVERIES) - 1):
        cand = np.nonzero(eligible & (first_d == d))[0]
        if len(cand) == 0:
            continue
        k = min(len(cand), max(minimum, int(round(share * len(cand)))))
        out.append(np.sort(rng.choice(cand, k, replace=False)))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _apc(seed, pop, em, el, linked) -> pl.DataFrame:
    rng = _rng(seed, "apc")
    # ---- spells
    (pe, de), (pel, dl) = em, el
    ne, nl = len(pe), len(pel)
    # regular day/night attenders (CLASSPAT 3/4): not admissions for the pipeline's counts
    cand = np.nonzero(linked)[0]
    n_reg = max(2, int(round(0.006 * len(cand))))
    reg_p = np.sort(rng.choice(cand, n_reg, replace=False))
    reg_start = _COVER_DAY + rng.integers(0, _LAST_DAY - _COVER_DAY - 60, n_reg)
    reg_n = rng.integers(6, 40, n_reg)
    reg_gap = rng.choice([7, 14], n_reg)
    reg_night = rng.random(n_reg) < 0.15
    reg_diag = rng.integers(0, len(REGULAR_DIAG), n_reg)
    ri = np.repeat(np.arange(n_reg), reg_n)
    seq = np.arange(len(ri)) - np.repeat(np.cumsum(reg_n) - reg_n, reg_n)
    pr = reg_p[ri]
    dr = reg_start[ri] + seq * reg_gap[ri]
    ok = (dr <= pop.death[pr]) & (dr + reg_night[ri] <= _LAST_DAY)
    ri, pr, dr = ri[ok], pr[ok], dr[ok]
    nr = len(pr)

    person = np.concatenate([pe, pel, pr])
    adm = np.concatenate([de, dl, dr])
    kind = np.concatenate([np.zeros(ne, np.int8), np.ones(nl, np.int8), np.full(nr, 2, np.int8)])
    ns = len(person)
    procode = np.where(kind == 2, 0, _pick(rng, TRUSTS, (0.78, 0.10, 0.07, 0.05), ns))
    admimeth = np.empty(ns, dtype=object)
    admimeth[kind == 0] = np.array(EMERGENCY_ADMIMETH)[_pick(rng, EMERGENCY_ADMIMETH, EMERGENCY_ADMIMETH_P, ne)]
    admimeth[kind == 1] = np.array(("11", "12", "13"))[_pick(rng, "abc", (0.6, 0.25, 0.15), nl)]
    admimeth[kind == 2] = "13"
    classpat = np.full(ns, "1", dtype=object)
    daycase = rng.random(nl) < 0.65
    classpat[ne:ne + nl][daycase] = "2"
    classpat[kind == 2] = np.where(reg_night[ri], "4", "3")
    los = np.zeros(ns, dtype=np.int64)
    los[:ne] = rng.negative_binomial(1.2, 1.2 / (1.2 + 5.5), ne)
    los[ne:ne + nl] = np.where(daycase, 0, 1 + rng.poisson(2.0, nl))
    los[ne + nl:] = reg_night[ri].astype(np.int64)
    end = adm + los
    died = end >= pop.death[person]
    end = np.minimum(end, pop.death[person])
    los = end - adm
    n_epi = np.ones(ns, dtype=np.int64)
    n_epi[:ne] = _pick(rng, (1, 2, 3), (0.82, 0.14, 0.04), ne) + 1
    n_epi[ne:ne + nl] = np.where(~daycase & (rng.random(nl) < 0.05), 2, 1)
    n_epi = np.where(los == 0, 1, n_epi)
    dismeth = np.array(("1", "2", "9"))[_pick(rng, "abc", (0.96, 0.025, 0.015), ns)].astype(object)
    dismeth[died] = "4"
    # provisional PROCODE3 for revised spells
    sp_first = _first_delivery(adm)
    rev_proc = _revision_mask(rng, sp_first, kind < 2, 0.003, 1)
    procode_prov = np.where(rev_proc, (procode + 1 + rng.integers(0, len(TRUSTS) - 1, ns)) % len(TRUSTS), procode)

    # ---- episodes
    cuts = np.sort(rng.random((ns, 2)), axis=1)
    c1 = adm + np.floor(cuts[:, 0] * (los + 1)).clip(max=los).astype(np.int64)
    c2 = adm + np.floor(cuts[:, 1] * (los + 1)).clip(max=los).astype(np.int64)
    bounds = np.stack([adm, np.where(n_epi == 1, end, c1), np.where(n_epi == 3, c2, end), end], axis=1)
    sp = np.repeat(np.arange(ns), n_epi)
    order = np.arange(len(sp)) - np.repeat(np.cumsum(n_epi) - n_epi, n_epi) + 1
    epistart = bounds[sp, order - 1]
    epiend = bounds[sp, order]
    last = order == n_epi[sp]
    nep = len(sp)
    ek = kind[sp]
    diag = np.empty(nep, dtype=object)
    diag[ek == 0] = np.array(EMERGENCY_DIAG)[rng.integers(0, len(EMERGENCY_DIAG), (ek == 0).sum())]
    diag[ek == 1] = np.array(ELECTIVE_DIAG)[rng.integers(0, len(ELECTIVE_DIAG), (ek == 1).sum())]
    diag[ek == 2] = np.array(REGULAR_DIAG)[reg_diag[ri]]
    ep_first = _first_delivery(epistart)
    rev_diag = _revision_mask(rng, ep_first, np.ones(nep, bool), 0.01, 2)
    diag_prov = diag.copy()
    diag_prov[rev_diag] = np.array(PROVISIONAL_DIAG)[rng.integers(0, len(PROVISIONAL_DIAG), rev_diag.sum())]

    df = pl.DataFrame(
        {
            "p": person[sp],
            "ADMIDATE_D": adm[sp],
            "EPISTART_D": epistart,
            "EPIEND_D": epiend,
            "EPIORDER": order,
            "last": last,
            "ADMIMETH": admimeth[sp].astype(str),
            "CLASSPAT": classpat[sp].astype(str),
            "DISMETH_F": dismeth[sp].astype(str),
            "DIAG_F": diag.astype(str),
            "DIAG_P": diag_prov.astype(str),
            "PROC_F": procode[sp],
            "PROC_P": procode_prov[sp],
            "sp_first": sp_first[sp],
            "ep_first": ep_first,
            "ghost": np.zeros(nep, bool),
            "spell": sp,
        }
    )
    # ---- withdrawn ghost records: single-episode finished spells shifted 1-3 days earlier
    fin_first = _first_delivery(epiend)
    elig = (n_epi[sp] == 1) & (fin_first == ep_first) & (ek < 2) & (epistart - 3 >= _COVER_DAY)
    elig &= _first_delivery(epistart - 3) == ep_first
    src = _ghost_sources(rng, ep_first, elig, 0.002, 2)
    shift = rng.integers(1, 4, len(src))
    g = df[src].with_columns(
        pl.col("ADMIDATE_D") - pl.Series(shift),
        pl.col("EPISTART_D") - pl.Series(shift),
        pl.col("EPIEND_D") - pl.Series(shift),
        pl.col("DIAG_F").alias("DIAG_P"),
        pl.col("PROC_F").alias("PROC_P"),
        ghost=pl.lit(True),
        spell=pl.Series(ns + np.arange(len(src))),
    )
    df = pl.concat([df, g]).sort(["ADMIDATE_D", "p", "spell", "EPIORDER"], maintain_order=True)
    return df.with_columns(EPIKEY=_ids("E", np.arange(1, df.height + 1), 12))


def _ae(seed, pop, ev, index_day) -> pl.DataFrame:
    rng = _rng(seed, "ae")
    p, day = ev
    n = len(p)
    # a few same-day repeat attendances: move the next attendance in the month onto the same day
    o = np.lexsort((day, p))
    p, day = p[o], day[o]
    same_month = np.zeros(n, bool)
    same_month[1:] = (p[1:] == p[:-1]) & (_months_of(day[1:]) == _months_of(day[:-1]))
    same_side = np.zeros(n, bool)
    same_side[1:] = (day[1:] >= index_day[p[1:]]) == (day[:-1] >= index_day[p[:-1]])
    move = same_month & same_side & (rng.random(n) < 0.12)
    prev = np.concatenate([[0], day[:-1]])
    day = np.where(move, prev, day)
    hour_p = np.array([1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1], dtype=float)
    minute = rng.choice(24, n, p=hour_p / hour_p.sum()) * 60 + rng.integers(0, 60, n)
    procode = _pick(rng, TRUSTS, (0.86, 0.07, 0.05, 0.02), n)
    cat = np.where(rng.random(n) < 0.93, 1, 3)
    # planned follow-ups (category 2): not attendances for the pipeline
    fu = np.nonzero(rng.random(n) < 0.06)[0]
    fday = day[fu] + rng.integers(2, 11, len(fu))
    okf = (fday <= pop.death[p[fu]]) & (fday <= _LAST_DAY)
    fu, fday = fu[okf], fday[okf]
    p = np.concatenate([p, p[fu]])
    day = np.concatenate([day, fday])
    minute = np.concatenate([minute, rng.integers(9 * 60, 16 * 60, len(fu))])
    procode = np.concatenate([procode, procode[fu]])
    cat = np.concatenate([cat, np.full(len(fu), 2)])
    n = len(p)
    # make (person, trust, date, time) unique so every attendance counts once
    for _ in range(50):
        key = ((p * 4 + procode) * 100000 + day) * 1440 + minute
        o = np.argsort(key, kind="stable")
        dup = np.zeros(n, bool)
        dup[o[1:]] = key[o[1:]] == key[o[:-1]]
        if not dup.any():
            break
        minute[dup] = (minute[dup] + 7) % 1440
    mode = np.where(rng.random(n) < 0.42, "1", "2")
    disp = _pick(rng, AE_DISP, AE_DISP_P, n)
    disp = np.where(cat == 2, np.where(rng.random(n) < 0.7, 2, 1), disp)  # follow-ups: 03 or 02
    first = _first_delivery(day)
    rev = _revision_mask(rng, first, np.ones(n, bool), 0.01, 2)
    disp_prov = np.where(rev, (disp + 1 + rng.integers(0, len(AE_DISP) - 1, n)) % len(AE_DISP), disp)
    df = pl.DataFrame(
        {
            "p": p,
            "ARRIVALDATE_D": day,
            "minute": minute,
            "PROC": procode,
            "AEATTENDCAT": cat.astype(str),
            "AEARRIVALMODE": mode,
            "DISP_F": disp,
            "DISP_P": disp_prov,
            "first": first,
            "ghost": np.zeros(n, bool),
        }
    )
    elig = (cat != 2) & (day - 3 >= _COVER_DAY) & (_first_delivery(day - 3) == first)
    src = _ghost_sources(rng, first, elig, 0.002, 2)
    g = df[src].with_columns(
        pl.col("ARRIVALDATE_D") - pl.Series(rng.integers(1, 4, len(src))),
        pl.col("DISP_F").alias("DISP_P"),
        ghost=pl.lit(True),
    )
    df = pl.concat([df, g]).sort(["ARRIVALDATE_D", "p", "minute"], maintain_order=True)
    hh = (df["minute"] // 60).cast(pl.String).str.zfill(2)
    mm = (df["minute"] % 60).cast(pl.String).str.zfill(2)
    return df.with_columns(
        AEKEY=_ids("A", np.arange(1, df.height + 1), 12),
        ARRIVALTIME=pl.select(hh + ":" + mm).to_series(),
    )


def _op(seed, pop, ev) -> pl.DataFrame:
    rng = _rng(seed, "op")
    p, day = ev
    n = len(p)
    attended = np.where(rng.random(n) < 0.9, "5", "6")
    # appointments not attended (cancelled, did not attend, late not seen)
    ex = np.nonzero(rng.random(n) < 0.33)[0]
    xday = day[ex] + rng.integers(-45, 46, len(ex))
    okx = (xday >= _COVER_DAY) & (xday <= _LAST_DAY) & (xday <= pop.death[p[ex]])
    ex, xday = ex[okx], xday[okx]
    xatt = np.array(("7", "2", "4", "3"))[_pick(rng, "abcd", (0.06, 0.24, 0.22, 0.48), len(ex))]
    p = np.concatenate([p, p[ex]])
    day = np.concatenate([day, xday])
    attended = np.concatenate([attended, xatt])
    n = len(p)
    procode = _pick(rng, TRUSTS, (0.74, 0.16, 0.05, 0.05), n)
    firstatt = np.array(("1", "2", "3", "4"))[_pick(rng, "abcd", (0.28, 0.64, 0.02, 0.06), n)]
    spec = _pick(rng, TRETSPEF, TRETSPEF_P, n)
    first = _first_delivery(day)
    rev = _revision_mask(rng, first, np.ones(n, bool), 0.01, 2)
    spec_prov = np.where(rev, (spec + 1 + rng.integers(0, len(TRETSPEF) - 1, n)) % len(TRETSPEF), spec)
    df = pl.DataFrame(
        {
            "p": p,
            "APPTDATE_D": day,
            "PROC": procode,
            "ATTENDED": attended,
            "FIRSTATT": firstatt,
            "SPEC_F": spec,
            "SPEC_P": spec_prov,
            "first": first,
            "ghost": np.zeros(n, bool),
        }
    )
    elig = (day - 3 >= _COVER_DAY) & (_first_delivery(day - 3) == first)
    src = _ghost_sources(rng, first, elig, 0.002, 2)
    g = df[src].with_columns(
        pl.col("APPTDATE_D") - pl.Series(rng.integers(1, 4, len(src))),
        pl.col("SPEC_F").alias("SPEC_P"),
        ghost=pl.lit(True),
    )
    df = pl.concat([df, g]).sort(["APPTDATE_D", "p"], maintain_order=True)
    return df.with_columns(ATTENDKEY=_ids("O", np.arange(1, df.height + 1), 12))


# --------------------------------------------------------------------------------------
# 6. Outcome tool (full timeline)
# --------------------------------------------------------------------------------------


def _score_distribution(mean: float, low_pct: float) -> np.ndarray:
    """P(score = 1..5) with P(<=2) = low and the given mean (1s are 35% of the low scores)."""
    low = low_pct / 100.0
    p1, p2 = 0.35 * low, 0.65 * low
    target = (mean - p1 - 2 * p2) / (1.0 - low)  # mean over {3,4,5}
    lo, hi = -20.0, 20.0
    for _ in range(100):  # bisection on a tilt over {3, 4, 5}
        th = 0.5 * (lo + hi)
        w = np.exp(th * np.array([-1.0, 0.0, 1.0]))
        mu = float((w / w.sum()) @ np.array([3.0, 4.0, 5.0]))
        lo, hi = (th, hi) if mu < target else (lo, th)
    w = np.exp(0.5 * (lo + hi) * np.array([-1.0, 0.0, 1.0]))
    rest = (1.0 - low) * w / w.sum()
    return np.array([p1, p2, *rest])


def _outcome_tool(seed, pop, ltc, mh, tokens_all):
    """Referrals, onward referrals and assessments on the whole timeline (final values)."""
    rng = _rng(seed, "outcome")
    (lp, ld), (mp, md) = ltc, mh
    # index referrals then re-referrals (~3% of persons, 3-12 months later, within the programme)
    persons = np.concatenate([lp, mp])
    rdate = np.concatenate([ld, md])
    prog = np.concatenate([np.zeros(len(lp), np.int8), np.ones(len(mp), np.int8)])
    prog_end = np.where(prog == 0, _LTC_END, _MH_END)
    rr_day = rdate + rng.integers(90, 366, len(persons))
    feasible = (rr_day <= prog_end) & (rr_day <= pop.reg_to[persons]) & (rr_day < pop.death[persons])
    cand = np.nonzero(feasible)[0]
    n_rr = min(len(cand), int(round(0.03 * len(persons))))
    rr = np.sort(rng.choice(cand, n_rr, replace=False))
    r_person = np.concatenate([persons, persons[rr]])
    r_date = np.concatenate([rdate, _weekday(rr_day[rr], rr_day[rr] - 3, rr_day[rr] + 3)])
    r_prog = np.concatenate([prog, prog[rr]])
    r_index = np.concatenate([np.ones(len(persons), bool), np.zeros(n_rr, bool)])
    o = np.lexsort((tokens_all[r_person], r_date))
    r_person, r_date, r_prog, r_index = r_person[o], r_date[o], r_prog[o], r_index[o]
    n = len(r_person)
    is_mh = r_prog == 1
    end = np.where(is_mh, _MH_END, _LTC_END)

    # engagement pathway
    engaged = rng.random(n) < np.where(is_mh, 0.885, 0.86)
    took = engaged & (rng.random(n) < np.where(is_mh, 0.97, 0.88))
    engage_d = r_date + rng.integers(3, 29, n)
    onward_lag = rng.integers(0, 15, n)
    takeup_d = engage_d + onward_lag + rng.integers(7, 31, n)
    closed_d = np.where(took, takeup_d + rng.integers(90, 361, n), _NEVER)
    declined_d = np.where(~engaged, r_date + rng.integers(5, 41, n), _NEVER)
    # MH discharge pathway (six-month pathway: the case closes after the discharge review)
    review_d = np.where(is_mh & took, r_date + 182 + rng.integers(-14, 15, n), _NEVER)
    closed_d = np.where(is_mh & took, review_d + rng.integers(14, 121, n), closed_d)
    discharged = is_mh & took & (rng.random(n) < 0.55)
    discharge_d = np.where(discharged, review_d + rng.integers(0, 43, n), _NEVER)
    reaccess = discharged & (rng.random(n) < 0.12)
    reaccess_d = np.where(reaccess, discharge_d + rng.integers(30, 301, n), _NEVER)
    adviser = np.where(is_mh, 5 + rng.integers(0, 2, n), pop.practice_adviser[pop.practice[r_person]])
    source = np.where(
        is_mh,
        _pick(rng, MH_SOURCES, MH_SOURCES_P, n) + len(LTC_SOURCES),
        _pick(rng, LTC_SOURCES, LTC_SOURCES_P, n),
    )
    referrals = dict(
        person=r_person, date=r_date, prog=r_prog, index=r_index, engaged=engaged, took=took, engage=engage_d,
        takeup=takeup_d, closed=closed_d, declined=declined_d, review=review_d, discharge=discharge_d,
        reaccess=reaccess_d, adviser=adviser, source=source, id=np.arange(1, n + 1),
    )

    # onward referrals: funded for ~70% of LTC persons (1,118 of 1,607), all MH take-ups
    n_ltc_index = int((~is_mh & r_index).sum())
    n_ltc_took = max(int((~is_mh & r_index & took).sum()), 1)
    pf_ltc = min(0.98, 0.696 * n_ltc_index / n_ltc_took)
    p_funded = np.where(is_mh, 0.97, np.where(r_index, pf_ltc, 0.5))
    funded = took & (rng.random(n) < p_funded)
    n_funded = funded * (1 + (rng.random(n) < 0.30) + (rng.random(n) < 0.05))
    n_eng = max(int((engaged & ~is_mh).sum()), 1)
    nonfunded = engaged & (rng.random(n) < np.where(is_mh, 0.2, min(0.9, 0.14 * (~is_mh).sum() / n_eng)))
    statutory = engaged & (rng.random(n) < np.where(is_mh, 0.1, min(0.9, 0.20 * (~is_mh).sum() / n_eng)))
    n_stat = statutory * (1 + (rng.random(n) < 0.1))
    rows_r, rows_f = [], []
    for counts_, fclass in ((n_funded, 0), (nonfunded.astype(np.int64), 1), (n_stat, 2)):
        rows_r.append(np.repeat(np.arange(n), counts_))
        rows_f.append(np.full(int(np.sum(counts_)), fclass))
    o_ref = np.concatenate(rows_r)
    o_class = np.concatenate(rows_f)
    m = len(o_ref)
    o_date = engage_d[o_ref] + onward_lag[o_ref] + rng.integers(0, 8, m)
    o_date = np.where(o_class == 0, np.maximum(np.minimum(o_date, end[o_ref]), r_date[o_ref]), o_date)
    # services: funded ones must belong to a provider whose grant is active in that quarter
    svc = np.zeros(m, dtype=np.int64)
    q = _quarter_key(o_date)
    funding_of = {"Funded": 0, "Non-funded": 1, "Statutory": 2}
    prov_start = {c: _qkey(s) for c, _, progs, s, _ in PROVIDERS}
    for qq in np.unique(q):
        for pg, pname in ((0, "LTC"), (1, "MH")):
            for fc in (0, 1, 2):
                rows = np.nonzero((q == qq) & (r_prog[o_ref] == pg) & (o_class == fc))[0]
                if len(rows) == 0:
                    continue
                cands = [
                    i for i, s in enumerate(SERVICES)
                    if funding_of[s[4]] == fc and pname in s[5]
                    and (fc != 0 or (pg == 1 or prov_start[s[2]] <= qq))
                ]
                w = np.array([SERVICES[i][6] for i in cands])
                svc[rows] = np.array(cands)[rng.choice(len(cands), len(rows), p=w / w.sum())]
    # one onward referral per (referral, service)
    _, first_of = np.unique(o_ref * len(SERVICES) + svc, return_index=True)
    first_of = np.sort(first_of)
    o_ref, o_date, svc = o_ref[first_of], o_date[first_of], svc[first_of]
    m = len(o_ref)
    oo = np.lexsort((svc, r_date[o_ref], o_ref, o_date))
    onward = dict(ref=o_ref[oo], date=o_date[oo], svc=svc[oo], id=np.arange(1, m + 1))

    # assessments: ~51% of referrals have a Baseline, ~35% of those an in-range Review
    has_base = engaged & (rng.random(n) < 0.51 / np.mean(engaged))
    b_day = engage_d + rng.integers(0, 8, n)
    rev_in = has_base & (rng.random(n) < 0.35)
    rev_early = has_base & (rng.random(n) < 0.10)
    rev_late = has_base & ~rev_in & (rng.random(n) < 0.07)
    base2 = has_base & (rng.random(n) < 0.02)
    dist = np.stack([_score_distribution(mu, low) for _, mu, low, _, _ in WELLBEING])
    nm = len(WELLBEING)
    base_scores = np.stack([rng.choice(5, n, p=dist[j]) + 1 for j in range(nm)], axis=1)
    follow = base_scores.copy()
    for j, (_, _, _, p_all, p_low) in enumerate(WELLBEING):
        low_share = dist[j, :2].sum()
        mid_share = dist[j, 2:4].sum()
        q_mid = (p_all / 100.0 - low_share * p_low / 100.0) / mid_share
        prob = np.where(base_scores[:, j] <= 2, p_low / 100.0, np.where(base_scores[:, j] <= 4, q_mid, 0.0))
        prob = np.where(is_mh, np.minimum(prob * 1.25, 0.95), prob)
        up = rng.random(n) < prob
        step = 1 + (rng.random(n) < 0.25) + (rng.random(n) < 0.05)
        down = ~up & (rng.random(n) < 0.12)
        follow[:, j] = np.clip(base_scores[:, j] + up * step - down, 1, 5)
    def noisy(scores: np.ndarray) -> np.ndarray:  # an assessment close to the given one
        return np.clip(scores + rng.integers(-1, 2, scores.shape) * (rng.random(scores.shape) < 0.3), 1, 5)

    a_ref, a_day, a_type, a_seq, a_scores = [], [], [], [], []

    def add(mask, day, typ, seq, scores):
        i = np.nonzero(mask)[0]
        a_ref.append(i)
        a_day.append(day[i])
        a_type.append(np.full(len(i), typ))
        a_seq.append(np.full(len(i), seq))
        a_scores.append(scores[i])

    add(has_base, b_day, 0, 0, base_scores)
    add(base2, b_day + rng.integers(0, 11, n), 0, 1, noisy(base_scores))
    add(rev_in, b_day + rng.integers(84, 141, n), 1, 2, follow)
    add(rev_early, b_day + rng.integers(28, 84, n), 1, 3, noisy(base_scores))
    add(rev_late, b_day + rng.integers(141, 241, n), 1, 4, noisy(follow))
    a_ref = np.concatenate(a_ref)
    a_day = np.concatenate(a_day)
    a_type = np.concatenate(a_type)
    a_seq = np.concatenate(a_seq)
    a_scores = np.concatenate(a_scores).astype(np.float64)
    a_scores[rng.random(a_scores.shape) < 0.01] = np.nan  # a few blank scores
    oa = np.lexsort((a_seq, a_ref, a_day))
    assessments = dict(ref=a_ref[oa], date=a_day[oa], type=a_type[oa], scores=a_scores[oa], id=np.arange(1, len(oa) + 1))
    return referrals, onward, assessments


# --------------------------------------------------------------------------------------
# 7. Provider workbooks
# --------------------------------------------------------------------------------------

_CREATED = dt.datetime(2016, 1, 1, 9, 0, 0)


def _header(name: str, style: int) -> str:
    words = name.split("_")
    if style == 0:
        return name
    if style == 1:
        return " ".join(w.capitalize() for w in words)
    if style == 2:
        return " " + " ".join(words).lower() + " "
    return "_".join(w.capitalize() for w in words)


def _write_workbook(path: pathlib.Path, meta: dict, sheets: dict, style: dict) -> dict:
    """Write one provider return; returns counts of data rows per sheet and planted row numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    wb.set_properties({
        "title": f"Social prescribing quarterly return {meta['quarter']}",
        "author": "speval demo-data",
        "company": meta["name"],
        "created": _CREATED,
    })
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    money_fmt = wb.add_format({"num_format": "£#,##0.00"})
    bold = wb.add_format({"bold": True})
    titles = [
        f"{meta['name']}",
        "Social Prescribing Service - quarterly monitoring return",
        f"Quarter: {meta['quarter']}",
    ][: style["titles"]]
    info = {}
    for sheet, (columns, rows, total) in sheets.items():
        ws = wb.add_worksheet(sheet)
        r = 0
        for t in titles:
            ws.write_string(r, 0, t, bold)
            r += 1
        ws.write_row(r, 0, [_header(c, style["header"]) for c in columns], bold)
        header_row = r + 1
        r += 1
        blanks = set(style["blank_after"].get(sheet, ()))
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, dt.date):
                    if style["dates"] == "excel":
                        ws.write_datetime(r, j, dt.datetime(v.year, v.month, v.day), date_fmt)
                    else:
                        ws.write_string(r, j, v.strftime("%d/%m/%Y"))
                elif isinstance(v, _Money):
                    if style["money"] == "text":
                        ws.write_string(r, j, f"£{v.value:,.2f}")
                    else:
                        ws.write_number(r, j, v.value, money_fmt)
                elif isinstance(v, (int, float, np.integer, np.floating)):
                    ws.write_number(r, j, float(v))
                else:
                    ws.write_string(r, j, str(v))
            r += 1
            if i in blanks:
                r += 1  # a blank row
        total_row = None
        if total is not None:
            for j, v in enumerate(total):
                if v is None:
                    continue
                if isinstance(v, _Money):
                    if style["money"] == "text":
                        ws.write_string(r, j, f"£{v.value:,.2f}", bold)
                    else:
                        ws.write_number(r, j, v.value, money_fmt)
                elif isinstance(v, (int, float)):
                    ws.write_number(r, j, float(v), bold)
                else:
                    ws.write_string(r, j, str(v), bold)
            total_row = r + 1
            r += 1
        info[sheet] = {"header_row": header_row, "data_rows": len(rows), "total_row": total_row}
    wb.close()
    return info


@dataclass(frozen=True)
class _Money:
    value: float


# --------------------------------------------------------------------------------------
# 8. Truth
# --------------------------------------------------------------------------------------


def _window_expectations(pop, u, persons, index_day, W) -> np.ndarray:
    """Sum of latent rates over [R, R + W months), shape (len(persons), 4), no effect applied."""
    end = add_months(index_day, W)
    m0 = _months_of(index_day)
    out = np.zeros((len(persons), len(MEASURES)))
    rates = [_rates(pop, u, k, persons) for k in range(len(MEASURES))]
    death = pop.death[persons]
    rows = np.arange(len(persons))
    for off in range(W + 1):
        t = m0 + off
        ok = t < _SIM_MONTHS
        tt = np.minimum(t, _SIM_MONTHS - 1)
        lo = np.maximum(index_day, _MONTH_START[tt])
        hi = np.minimum(np.minimum(end, _MONTH_START[tt + 1]), death + 1)
        frac = np.where(ok, np.clip(hi - lo, 0, None) / _DIM[tt], 0.0)
        for k in range(len(MEASURES)):
            out[:, k] += rates[k][rows, tt] * frac
    return out


def _naive(keys: np.ndarray, persons: np.ndarray, index_day: np.ndarray, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-person event counts before/after the index in W-month windows (keys = person*2^20 + day)."""
    base = persons.astype(np.int64) << 20
    lo, mid, hi = add_months(index_day, -W), index_day, add_months(index_day, W)
    before = np.searchsorted(keys, base + mid) - np.searchsorted(keys, base + lo)
    after = np.searchsorted(keys, base + hi) - np.searchsorted(keys, base + mid)
    return before, after


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def generate(out: pathlib.Path, scale: float = 1.0, seed: int = 42) -> dict:
    """Write the synthetic data set under ``out``; return {relative file path: row count}."""
    out = pathlib.Path(out)
    if scale <= 0:
        raise ValueError("scale must be positive")
    summary: dict[str, int] = {}

    # ---- population and latent health
    n_ltc = int(_alloc(round(1607 * scale), LTC_MONTHLY).sum())
    n_mh = int(round(156 * scale))
    n_ref = n_ltc + n_mh
    n = n_ref + int(np.ceil(POOL_MULTIPLIER * n_ref))
    pop = _population(seed, n)
    rng_tok = _rng(seed, "tokens")
    raw = np.unique(rng_tok.integers(0, 2**48, int(n * 1.05) + 10))
    tokens = _hex_tokens(rng_tok.permutation(raw)[:n])
    u = _shocks(seed, n)
    counts = _counts(seed, pop, u)

    # ---- referral selection (LTC, then MH among the never-referred)
    ltc = _select(seed, pop, counts, "LTC", _alloc(n_ltc, LTC_MONTHLY), _month_index("2012-09-01"), np.zeros(n, bool))
    taken = np.zeros(n, bool)
    taken[ltc[0]] = True
    mh = _select(seed, pop, counts, "MH", _alloc(n_mh, MH_MONTHLY), _month_index("2015-04-01"), taken)
    index_day = np.full(n, _NEVER, dtype=np.int64)
    index_day[ltc[0]] = ltc[1]
    index_day[mh[0]] = mh[1]
    programme = np.full(n, -1, dtype=np.int8)
    programme[ltc[0]] = 0
    programme[mh[0]] = 1

    # ~2% of referred persons are not linked: absent from persons.csv and all HES files
    rng_link = _rng(seed, "linkage")
    referred = np.nonzero(programme >= 0)[0]
    n_unlinked = max(1, int(round(0.02 * len(referred))))
    unlinked = np.sort(rng_link.choice(referred, n_unlinked, replace=False))
    linked = np.ones(n, bool)
    linked[unlinked] = False

    # ---- events (effect applied by thinning after the index date)
    events = []
    for k, name in enumerate(MEASURES):
        p, d = _expand(seed, name, counts[k], pop, index_day, _RR[k])
        keep = linked[p]
        events.append((p[keep], d[keep]))
    del counts

    apc = _apc(seed, pop, events[0], events[1], linked)
    ae = _ae(seed, pop, events[2], index_day)
    op = _op(seed, pop, events[3])
    tok = pl.Series(values=tokens)

    # ---- HES deliveries
    defects: list[dict] = []
    revisions: dict[str, dict] = {}
    withdrawals: dict[str, dict] = {}
    prev_keys: dict[str, pl.DataFrame] = {}
    rng_dup = _rng(seed, "duplicates")
    lp = np.nonzero(linked)[0]
    for d, (key, cutoff) in enumerate(DELIVERIES.items()):
        c = _day(cutoff)
        folder = out / "hes" / key
        _write_json(
            {
                "coverage_start": COVERAGE_START.isoformat(),
                "cutoff": cutoff.isoformat(),
                "extracted_on": (cutoff + dt.timedelta(days=EXTRACT_LAG_DAYS)).isoformat(),
            },
            folder / "manifest.json",
        )
        persons = pl.DataFrame(
            {
                "TOKEN_PERSON_ID": tok.gather(lp),
                "YEAR_OF_BIRTH": pop.yob[lp],
                "SEX": _codes(("1", "2", "9"), pop.sex[lp]),
                "LSOA11": _ids("E01007", pop.lsoa[lp], 3),
                "IMD_DECILE": pop.imd[lp],
                "GPPRAC": _ids("C87", pop.practice[lp] + 1, 3),
                "LTC_COUNT": pop.ltc[lp],
                "RISK_SCORE": pop.risk[lp],
                "REGISTERED_FROM": _dates(pop.reg_from[lp]),
                "REGISTERED_TO": _dates(pop.reg_to[lp] % _NEVER, pop.reg_to[lp] <= c),
                "DATE_OF_DEATH": _dates(pop.death[lp] % _NEVER, pop.death[lp] <= c),
            }
        ).sort("TOKEN_PERSON_ID")
        summary[f"hes/{key}/persons.csv"] = _write_csv(persons, folder / "persons.csv", float_precision=1)

        # APC
        a = apc.filter((pl.col("EPISTART_D") <= c) & (~pl.col("ghost") | (pl.col("ep_first") == d)))
        fin = pl.col("EPIEND_D") <= c
        a = a.select(
            pl.col("p"),
            pl.col("EPIKEY"),
            pl.when(pl.col("sp_first") == d).then(pl.col("PROC_P")).otherwise(pl.col("PROC_F")).alias("proc"),
            pl.col("ADMIDATE_D").cast(pl.Int32).cast(pl.Date).alias("ADMIDATE"),
            pl.col("EPISTART_D").cast(pl.Int32).cast(pl.Date).alias("EPISTART"),
            pl.when(fin).then(pl.col("EPIEND_D").cast(pl.Int32).cast(pl.Date)).alias("EPIEND"),
            pl.when(fin & pl.col("last")).then(pl.col("EPIEND_D").cast(pl.Int32).cast(pl.Date)).alias("DISDATE"),
            pl.col("EPIORDER"),
            pl.when(fin).then(pl.lit("3")).otherwise(pl.lit("1")).alias("EPISTAT"),
            pl.col("ADMIMETH"),
            pl.col("CLASSPAT"),
            pl.when(fin & pl.col("last")).then(pl.col("DISMETH_F")).otherwise(pl.lit("8")).alias("DISMETH"),
            pl.when(pl.col("ep_first") == d).then(pl.col("DIAG_P")).otherwise(pl.col("DIAG_F")).alias("DIAG_4_01"),
        )
        a = a.with_columns(
            TOKEN_PERSON_ID=tok.gather(a["p"].to_numpy()),
            PROCODE3=_codes(TRUSTS, a["proc"].to_numpy()),
        ).select(
            "TOKEN_PERSON_ID", "EPIKEY", "PROCODE3", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE", "EPIORDER",
            "EPISTAT", "ADMIMETH", "CLASSPAT", "DISMETH", "DIAG_4_01",
        )
        # AE
        e = ae.filter((pl.col("ARRIVALDATE_D") <= c) & (~pl.col("ghost") | (pl.col("first") == d)))
        e = pl.DataFrame(
            {
                "TOKEN_PERSON_ID": tok.gather(e["p"].to_numpy()),
                "AEKEY": e["AEKEY"],
                "PROCODE3": _codes(TRUSTS, e["PROC"].to_numpy()),
                "ARRIVALDATE": _dates(e["ARRIVALDATE_D"].to_numpy()),
                "ARRIVALTIME": e["ARRIVALTIME"],
                "AEATTENDCAT": e["AEATTENDCAT"],
                "AEARRIVALMODE": e["AEARRIVALMODE"],
                "AEATTENDDISP": _codes(AE_DISP, np.where(e["first"].to_numpy() == d, e["DISP_P"].to_numpy(), e["DISP_F"].to_numpy())),
            }
        )
        # OP
        o = op.filter((pl.col("APPTDATE_D") <= c) & (~pl.col("ghost") | (pl.col("first") == d)))
        o = pl.DataFrame(
            {
                "TOKEN_PERSON_ID": tok.gather(o["p"].to_numpy()),
                "ATTENDKEY": o["ATTENDKEY"],
                "PROCODE3": _codes(TRUSTS, o["PROC"].to_numpy()),
                "APPTDATE": _dates(o["APPTDATE_D"].to_numpy()),
                "ATTENDED": o["ATTENDED"],
                "FIRSTATT": o["FIRSTATT"],
                "TRETSPEF": _codes(TRETSPEF, np.where(o["first"].to_numpy() == d, o["SPEC_P"].to_numpy(), o["SPEC_F"].to_numpy())),
            }
        )
        # revisions / withdrawals relative to the previous delivery
        tables = {"apc": (a, "EPIKEY", ("PROCODE3", "DIAG_4_01")), "ae": (e, "AEKEY", ("AEATTENDDISP",)),
                  "op": (o, "ATTENDKEY", ("TRETSPEF",))}
        if d > 0:
            pk = list(DELIVERIES)[d - 1]
            for name, (df, kcol, fields) in tables.items():
                prev = prev_keys[name]
                j = prev.join(df.select(kcol, *fields), on=kcol, how="left", suffix="_new")
                gone = int(j[f"{fields[0]}_new"].is_null().sum())
                changed = {
                    f: int(j.filter(pl.col(f"{f}_new").is_not_null() & (pl.col(f) != pl.col(f"{f}_new"))).height)
                    for f in fields
                }
                revisions.setdefault(f"hes/{key}/{name}.csv", {"compared_with": f"hes/{pk}/{name}.csv", **changed})
                withdrawals[f"hes/{key}/{name}.csv"] = {"compared_with": f"hes/{pk}/{name}.csv", "withdrawn_records": gone}
        for name, (df, kcol, fields) in tables.items():
            prev_keys[name] = df.select(kcol, *fields)
        # planted exact duplicates in the 2013Q4 delivery
        if key == "2013Q4":
            ia = np.sort(rng_dup.choice(a.height, N_DUP_APC_2013Q4, replace=False))
            ie = np.sort(rng_dup.choice(e.height, N_DUP_AE_2013Q4, replace=False))
            a = pl.concat([a, a[ia]])
            e = pl.concat([e, e[ie]])
            defects.append({"kind": "exact_duplicate_rows", "file": f"hes/{key}/apc.csv", "count": N_DUP_APC_2013Q4,
                            "keys": sorted(a["EPIKEY"].gather(ia).to_list())})
            defects.append({"kind": "exact_duplicate_rows", "file": f"hes/{key}/ae.csv", "count": N_DUP_AE_2013Q4,
                            "keys": sorted(e["AEKEY"].gather(ie).to_list())})
        a = a.sort("EPIKEY", maintain_order=True)
        e = e.sort("AEKEY", maintain_order=True)
        o = o.sort("ATTENDKEY", maintain_order=True)
        summary[f"hes/{key}/apc.csv"] = _write_csv(a, folder / "apc.csv")
        summary[f"hes/{key}/ae.csv"] = _write_csv(e, folder / "ae.csv")
        summary[f"hes/{key}/op.csv"] = _write_csv(o, folder / "op.csv")
    del apc, ae, op

    # ---- outcome tool
    refs, onward, assess = _outcome_tool(seed, pop, ltc, mh, tokens)
    n_refs = len(refs["id"])
    ref_ids = _ids("R", refs["id"], 6)
    late_info = {}
    rng_late = _rng(seed, "late")
    for d, (key, cutoff) in enumerate(DELIVERIES.items()):
        c = _day(cutoff)
        folder = out / "outcome_tool" / key
        late_cand = np.nonzero((refs["date"] > c) & (refs["date"] <= c + 14))[0]
        late = np.sort(rng_late.choice(late_cand, min(N_LATE_REFERRALS, len(late_cand)), replace=False))
        late_info[f"outcome_tool/{key}/referrals.csv"] = {
            "count": len(late), "referral_ids": [f"R{i:06d}" for i in refs["id"][late]]}
        inc = refs["date"] <= c
        inc[late] = True
        idx = np.nonzero(inc)[0]
        r = {k: v[idx] for k, v in refs.items()}
        dated = r["date"] <= c
        status = np.zeros(len(idx), np.int64)  # Referred
        status[dated & r["engaged"] & (r["engage"] <= c)] = 1
        status[dated & r["took"] & (r["takeup"] <= c)] = 2
        status[dated & (r["declined"] <= c)] = 3
        status[dated & (r["closed"] <= c)] = 4
        closed = np.where(r["declined"] <= c, r["declined"], np.where(r["closed"] <= c, r["closed"], _NEVER))
        mhr = r["prog"] == 1
        referrals = pl.DataFrame(
            {
                "REFERRAL_ID": ref_ids.gather(idx),
                "TOKEN_PERSON_ID": pl.Series(values=tokens).gather(r["person"]),
                "PROGRAMME": _codes(("LTC", "MH"), r["prog"]),
                "REFERRAL_DATE": _dates(r["date"]),
                "REFERRER_PRACTICE": _ids("C87", pop.practice[r["person"]] + 1, 3),
                "REFERRAL_SOURCE": _codes(LTC_SOURCES + MH_SOURCES, r["source"]),
                "ADVISER_ID": _ids("ADV", r["adviser"] + 1, 2),
                "STATUS": _codes(("Referred", "Engaged", "Took up", "Declined", "Closed"), status),
                "CLOSED_DATE": _dates(closed % _NEVER, closed <= c),
                "MH_DISCHARGE_REVIEW_DATE": _dates(r["review"] % _NEVER, mhr & (r["review"] <= c)),
                "MH_DISCHARGE_DATE": _dates(r["discharge"] % _NEVER, mhr & (r["discharge"] <= c)),
                "MH_REACCESS_DATE": _dates(r["reaccess"] % _NEVER, mhr & (r["reaccess"] <= c)),
            }
        )
        summary[f"outcome_tool/{key}/referrals.csv"] = _write_csv(referrals, folder / "referrals.csv")
        oi = np.nonzero(onward["date"] <= c)[0]
        svc = onward["svc"][oi]
        onward_df = pl.DataFrame(
            {
                "ONWARD_ID": _ids("N", onward["id"][oi], 6),
                "REFERRAL_ID": ref_ids.gather(onward["ref"][oi]),
                "ONWARD_DATE": _dates(onward["date"][oi]),
                "SERVICE_CODE": _codes([s[0] for s in SERVICES], svc),
                "SERVICE_NAME": _codes([s[1] for s in SERVICES], svc),
                "PROVIDER_CODE": _codes([s[2] for s in SERVICES], svc),
                "SERVICE_TYPE": _codes([s[3] for s in SERVICES], svc),
                "FUNDING": _codes([s[4] for s in SERVICES], svc),
            }
        )
        summary[f"outcome_tool/{key}/onward_referrals.csv"] = _write_csv(onward_df, folder / "onward_referrals.csv")
        ai = np.nonzero(assess["date"] <= c)[0]
        cols = {
            "ASSESSMENT_ID": _ids("S", assess["id"][ai], 7),
            "REFERRAL_ID": ref_ids.gather(assess["ref"][ai]),
            "ASSESSMENT_DATE": _dates(assess["date"][ai]),
            "ASSESSMENT_TYPE": _codes(("Baseline", "Review"), assess["type"][ai]),
        }
        for j, (mname, *_rest) in enumerate(WELLBEING):
            cols[mname] = pl.Series(values=assess["scores"][ai, j]).fill_nan(None).cast(pl.Int64)
        summary[f"outcome_tool/{key}/assessments.csv"] = _write_csv(pl.DataFrame(cols), folder / "assessments.csv")

    # ---- provider workbooks
    unknown = _provider_returns(seed, out, refs, onward, n_refs, summary)
    defects.extend(unknown)

    # ---- truth
    _truth(out, seed, scale, pop, u, tokens, linked, index_day, programme, events, refs, onward, defects,
           revisions, withdrawals, late_info, unlinked, summary)
    return dict(sorted(summary.items()))


def _provider_returns(seed, out, refs, onward, n_refs, summary) -> list[dict]:
    rng = _rng(seed, "providers")
    prov_index = {p[0]: i for i, p in enumerate(PROVIDERS)}
    svc_codes = np.array([s[0] for s in SERVICES])
    svc_prov = np.array([s[2] for s in SERVICES])
    svc_type = np.array([s[3] for s in SERVICES])
    svc_funded = np.array([s[4] == "Funded" for s in SERVICES])
    o_ref = onward["ref"]
    funded = svc_funded[onward["svc"]] & refs["took"][o_ref]
    fi = np.nonzero(funded)[0]
    m = len(fi)
    prog = refs["prog"][o_ref[fi]]
    end = np.where(prog == 1, _MH_END, _LTC_END)
    start = np.maximum(np.minimum(onward["date"][fi] + rng.integers(3, 22, m), end), onward["date"][fi])
    finish = start + rng.integers(28, 169, m)
    sessions_done = rng.integers(4, 17, m)
    sessions_ongoing = rng.integers(1, 9, m)
    outcome_done = np.array(("Completed", "Disengaged", "Moved on to wider VCS"))[_pick(rng, "abc", (0.7, 0.2, 0.1), m)]
    provider = svc_prov[onward["svc"][fi]]
    q_of = _quarter_key(start)
    welfare = (svc_type[onward["svc"][fi]] == "Information and advice") & (rng.random(m) < 0.35)
    award = start + rng.integers(20, 81, m)
    award_q = _quarter_key(award)
    ben = rng.integers(0, len(BENEFITS), m)
    ben_amt = np.zeros(m)
    for b, (_, rates) in enumerate(BENEFITS):
        sel = ben == b
        if rates is None:
            ben_amt[sel] = np.round(rng.uniform(4.0, 45.0, sel.sum()), 2)
        else:
            ben_amt[sel] = np.array(rates)[rng.integers(0, len(rates), sel.sum())]

    quarters = [(q, "LTC") for q in LTC_RETURN_QUARTERS] + [(q, "MH") for q in MH_RETURN_QUARTERS]
    books = []
    for q, pg in quarters:
        for code, name, progs, first_q, grant in PROVIDERS:
            if pg not in progs or (pg == "LTC" and _qkey(q) < _qkey(first_q)):
                continue
            books.append((q, pg, code, name, grant if pg == "LTC" else MH_GRANTS[code]))
    # the planted unknown REFERRAL_IDs go into two workbooks that have activity
    with_activity = [
        i for i, (q, pg, code, _, _) in enumerate(books)
        if np.any((q_of == _qkey(q)) & (provider == code) & (prog == (pg == "MH")))
    ]
    plant = set(int(i) for i in rng.choice(with_activity, min(N_UNKNOWN_ACTIVITY_REFS, len(with_activity)), replace=False))
    defects = []
    unknown_no = n_refs + 501  # beyond every REFERRAL_ID the outcome tool ever issues
    for bi, (q, pg, code, name, grant) in enumerate(books):
        q0, q1 = _qbounds(q)
        brng = _rng(seed, f"book-{q}-{code}")
        style = {
            "titles": int(brng.integers(1, 4)),
            "header": int(brng.integers(0, 4)),
            "dates": ("excel", "text")[(prov_index[code] + _qkey(q)) % 2],
            "money": ("text", "number")[int(brng.integers(0, 2))],
        }
        sel = np.nonzero((q_of == _qkey(q)) & (provider == code) & (prog == (pg == "MH")))[0]
        sel = sel[np.lexsort((refs["id"][o_ref[fi[sel]]], start[sel]))]
        activity = []
        for i in sel:
            ended = finish[i] <= q1
            activity.append([
                f"R{refs['id'][o_ref[fi[i]]]:06d}",
                svc_codes[onward["svc"][fi[i]]],
                _to_date(start[i]),
                _to_date(finish[i]) if ended else None,
                int(sessions_done[i] if ended else sessions_ongoing[i]),
                outcome_done[i] if ended else "Ongoing",
            ])
        planted_rows = []
        if bi in plant:
            pos = int(brng.integers(0, len(activity) + 1))
            rid = f"R{unknown_no:06d}"
            unknown_no += 1
            svc_here = [s[0] for s in SERVICES if s[2] == code]
            day = q0 + int(brng.integers(0, q1 - q0 + 1))
            activity.insert(pos, [rid, svc_here[0], _to_date(day), None, int(brng.integers(1, 6)), "Ongoing"])
            planted_rows.append((pos, rid))
        # benefit awards land in the quarter they are awarded (often the one after the activity started)
        wsel = np.nonzero(welfare & (award_q == _qkey(q)) & (provider == code) & (prog == (pg == "MH")))[0]
        wsel = wsel[np.lexsort((refs["id"][o_ref[fi[wsel]]], award[wsel]))]
        welfare_rows = [
            [f"R{refs['id'][o_ref[fi[i]]]:06d}", BENEFITS[ben[i]][0], _to_date(award[i]), _Money(float(ben_amt[i]))]
            for i in wsel
        ]
        months = [dt.date(int(q[:4]), 3 * int(q[5]) - 2 + k, 1) for k in range(3)]
        vols = brng.integers(2, 26, 3)
        volunteering = [[mth, int(v), float(np.round(v * brng.uniform(4, 20), 1))] for mth, v in zip(months, vols)]
        funding = []
        if q == (MH_RETURN_QUARTERS[0] if pg == "MH" else _first_q(code)):
            funding.append(["NHS Rotherham CCG (social prescribing grant)", _Money(grant), _to_date(q0 + int(brng.integers(0, 20))), "Y"])
        for _ in range(int(brng.integers(0, 3))):
            funding.append([
                FUNDERS[int(brng.integers(0, len(FUNDERS)))],
                _Money(float(np.round(brng.uniform(500, 15000) / 50) * 50)),
                _to_date(q0 + int(brng.integers(0, q1 - q0 + 1))),
                "Y" if brng.random() < 0.3 else "N",
            ])
        total_label = ("Total", "TOTAL", "Totals")[int(brng.integers(0, 3))]
        blank_after = {}
        for sheet, rows in (("Activity", activity), ("Welfare", welfare_rows)):
            if len(rows) >= 3:
                blank_after[sheet] = sorted(set(int(x) for x in brng.integers(0, len(rows) - 1, int(brng.integers(1, 3)))))
        style["blank_after"] = blank_after
        sheets = {
            "Cover": (["FIELD", "VALUE"], [["Provider name", name], ["Provider code", code], ["Quarter", q],
                                            ["Grant amount", f"£{grant:,.2f}"]], None),
            "Activity": (["REFERRAL_ID", "SERVICE_CODE", "START_DATE", "END_DATE", "SESSIONS_ATTENDED", "OUTCOME"],
                         activity, [total_label, None, None, None, int(sum(r[4] for r in activity)), None]),
            "Volunteering": (["MONTH", "VOLUNTEERS", "HOURS"], volunteering, None),
            "Welfare": (["REFERRAL_ID", "BENEFIT_TYPE", "AWARD_DATE", "WEEKLY_AMOUNT_GBP"], welfare_rows,
                        [total_label, None, None, _Money(float(np.round(sum(r[3].value for r in welfare_rows), 2)))]),
            "Funding": (["FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"], funding,
                        [total_label, _Money(float(sum(r[1].value for r in funding))), None, None]),
        }
        rel = f"provider_returns/{q}/{code}.xlsx"
        info = _write_workbook(out / rel, {"name": name, "quarter": q}, sheets, style)
        summary[rel] = sum(v["data_rows"] for k, v in info.items() if k != "Cover")
        for pos, rid in planted_rows:
            act = info["Activity"]
            # spreadsheet row number of the planted row (blank rows inserted after data row i shift later rows)
            shift = sum(1 for b in style["blank_after"].get("Activity", ()) if b < pos)
            defects.append({
                "kind": "activity_referral_id_unknown_to_outcome_tool",
                "file": f"{rel}#Activity",
                "count": 1,
                "referral_id": rid,
                "row_number": act["header_row"] + 1 + pos + shift,
            })
    return defects


def _first_q(code: str) -> str:
    for c, _, _, first_q, _ in PROVIDERS:
        if c == code:
            return first_q
    raise KeyError(code)


def _to_date(day) -> dt.date:
    return (_EPOCH + np.timedelta64(int(day), "D")).astype(dt.date)


def _truth(out, seed, scale, pop, u, tokens, linked, index_day, programme, events, refs, onward, defects,
           revisions, withdrawals, late_info, unlinked, summary) -> None:
    tp = np.nonzero((programme >= 0) & linked)[0]
    tp = tp[np.argsort(tokens[tp], kind="stable")]
    cols = {
        "TOKEN_PERSON_ID": pl.Series(values=tokens[tp]),
        "PROGRAMME": _codes(("LTC", "MH"), programme[tp]),
        "INDEX_DATE": _dates(index_day[tp]),
    }
    implied = {}
    for W in WINDOWS:
        cf = _window_expectations(pop, u, tp, index_day[tp], W)
        ex = cf * _RR[None, :]
        per = {
            "inpatient_admissions": (ex[:, 0] + ex[:, 1], cf[:, 0] + cf[:, 1]),
            "emergency_admissions": (ex[:, 0], cf[:, 0]),
            "ae_attendances": (ex[:, 2], cf[:, 2]),
            "outpatient_appointments": (ex[:, 3], cf[:, 3]),
        }
        for mname in PIPELINE_MEASURES:
            e_, c_ = per[mname]
            cols[f"{mname}_after_{W}m_expected"] = pl.Series(values=e_)
            cols[f"{mname}_after_{W}m_counterfactual"] = pl.Series(values=c_)
        ltc_rows = programme[tp] == 0
        implied[f"{W}m"] = float(np.round(per["inpatient_admissions"][0][ltc_rows].sum()
                                          / per["inpatient_admissions"][1][ltc_rows].sum(), 4))
    summary["truth_patients.csv"] = _write_csv(pl.DataFrame(cols), out / "truth_patients.csv", float_precision=6)

    # naive before/after on the simulated final timeline (simple index-date computation)
    keys = []
    for k in range(len(MEASURES)):
        p, d = events[k]
        keys.append(np.sort((p.astype(np.int64) << 20) + d))
    calib = {}
    ltc_p = tp[programme[tp] == 0]
    groups = {
        "all_linked_ltc_referred": np.ones(len(ltc_p), bool),
        "referred_sep_dec_2012": index_day[ltc_p] <= _day("2013-01-01"),
        "referred_sep_2012_jun_2013": index_day[ltc_p] <= _day("2013-07-01"),
    }
    for gname, gmask in groups.items():
        res = {}
        for W in WINDOWS:
            pp = ltc_p[gmask]
            r = index_day[pp]
            ba = [_naive(keys[k], pp, r, W) for k in range(len(MEASURES))]
            per = {
                "inpatient_admissions": (ba[0][0] + ba[1][0], ba[0][1] + ba[1][1]),
                "emergency_admissions": ba[0],
                "ae_attendances": ba[2],
                "outpatient_appointments": ba[3],
            }
            res[f"{W}m"] = {
                m: {
                    "mean_before": round(float(b.mean()), 3) if len(b) else None,
                    "mean_after": round(float(a.mean()), 3) if len(a) else None,
                    "pct_change": round(100.0 * (a.mean() - b.mean()) / b.mean(), 1) if len(b) and b.mean() > 0 else None,
                }
                for m, (b, a) in per.items()
            }
            res[f"{W}m"]["n_patients"] = int(gmask.sum())
        calib[gname] = res

    n_funded_persons = int(len(np.unique(refs["person"][onward["ref"][np.isin(onward["svc"], [i for i, s in enumerate(SERVICES) if s[4] == "Funded"]) & (refs["prog"][onward["ref"]] == 0)]])))
    truth = {
        "generator": "speval.demo_data",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "rate_ratios": {
            **{k: v for k, v in RATE_RATIOS.items()},
            "inpatient_admissions": implied["12m"],
            "inpatient_admissions_note": (
                "inpatient = emergency + elective (ordinary and day case); its ratio is implied, "
                "sum(expected)/sum(counterfactual) over linked LTC referred persons' 12-month post windows "
                f"(6-month: {implied['6m']})"
            ),
        },
        "effect": "rate ratios multiply the person's latent rates from the index date (earliest referral) onwards, "
                  "no lag, for both programmes; truth_patients.csv gives per-person expected post-window counts",
        "health_model": {
            "description": "monthly rate = base(person) * exp(load * u_t - load^2 sigma^2 / 2) * winter(t); "
                           "u is an AR(1) log-rate shock shared by the four measures; base rises with frailty "
                           "(of which RISK_SCORE is a noisy proxy) and LTC_COUNT; events Poisson, days uniform "
                           "within the month; nothing after death",
            "rho_monthly": MODEL.rho,
            "sigma": MODEL.sigma,
            "measures": list(MEASURES),
            "base_annual": list(MODEL.base_annual),
            "frailty_loading": list(MODEL.frailty_loading),
            "ltc_loading": list(MODEL.ltc_loading),
            "shock_loading": list(MODEL.shock_loading),
        },
        "selection": {
            "description": (
                "Referral is selected on a recent spike. Each month the programme's referral volume is drawn "
                "without replacement from eligible persons (registered, alive, at a practice that has started "
                "referring, never referred) with probability proportional to a hazard weight "
                "practice_factor * exp(beta(t) * z(RISK_SCORE)) * (1 + recent)^alpha, where recent = observed "
                "{:g} x emergency admissions + {:g} x elective admissions + {:g} x A&E attendances + {:g} x "
                "outpatient appointments attended in the 3 calendar months before the referral month. beta declines over the LTC programme (early "
                "referrals are the highest-risk patients). Because recent spikes are partly transient "
                "(AR(1) shock), a naive before/after comparison shows a larger fall than the planted effect "
                "(regression to the mean). The never-referred comparison pool follows the same dynamics."
            ).format(*MODEL.recent_weights),
            "alpha_recent": MODEL.alpha_recent,
            "beta_risk_start": MODEL.beta_risk_start,
            "beta_risk_end": MODEL.beta_risk_end,
            "mh": "MH referrals (RDASH) from all practices, weight exp(0.4 z(RISK_SCORE) + 0.03 (YEAR_OF_BIRTH - 1945)) "
                  "* (1 + recent)^alpha, among persons never referred to LTC",
        },
        "population": {
            "persons_in_persons_csv": int(linked.sum()),
            "referred_ltc_persons": int((programme == 0).sum()),
            "referred_mh_persons": int((programme == 1).sum()),
            "referred_linked_persons": int(len(tp)),
            "never_referred_pool": int(linked.sum() - len(tp)),
            "referrals": int(len(refs["id"])),
            "re_referrals": int((~refs["index"]).sum()),
            "practices": N_PRACTICES,
            "referring_practices": N_REFERRING,
            "ltc_persons_with_funded_onward_referral": n_funded_persons,
        },
        "planted_defects": defects + [
            {"kind": "referrals_not_linked", "file": "outcome_tool/*/referrals.csv",
             "count": int(len(unlinked)), "token_person_ids": sorted(tokens[unlinked].tolist()),
             "note": "referred persons absent from every persons.csv and HES file (valid but not linked)"},
        ],
        "late_referrals": {**late_info, "note": "referrals dated within 14 days after the export's cut-off"},
        "delivery_revisions": revisions,
        "delivery_withdrawals": withdrawals,
        "calibration_targets": {
            "source": "ltc-pilot-social-economic-impact-2014 (Table 1, Table 2, section 1.2); "
                      "ltc-pilot-interim-summary-2013; mh-pilot-key-findings-2016",
            "ltc_referred_persons": 1607,
            "ltc_referrals_first_12_months": 808,
            "ltc_persons_referred_on_to_funded": 1118,
            "non_funded_onward_referrals": ">200",
            "statutory_onward_referrals": ">300",
            "mh_referrals": 156,
            "mh_engaged_pct": 90,
            "mh_took_up_pct": 87,
            "before_12m_per_patient": {"inpatient_admissions": 1.46, "ae_attendances": 1.94, "outpatient_appointments": 1.70},
            "before_6m_per_patient": {"inpatient_admissions": 0.59, "ae_attendances": 0.76, "outpatient_appointments": 0.74},
            "naive_pct_change_12m": {"inpatient_admissions": -21, "ae_attendances": -20, "outpatient_appointments": -21},
            "naive_pct_change_6m": {"inpatient_admissions": -14, "ae_attendances": -12, "outpatient_appointments": -15},
            "wellbeing_baseline": {m.lower(): {"mean": mu, "low_pct": low} for m, mu, low, _, _ in WELLBEING},
            "wellbeing_progress": {m.lower(): {"progress_pct": pa, "progress_low_pct": plow} for m, _, _, pa, plow in WELLBEING},
            "baseline_share_of_referrals_pct": 51,
            "followup_share_of_baselines_pct": 34,
        },
        "calibration_simulated_naive": {
            "note": "simple index-date before/after on the full simulated timeline (linked LTC referred persons, "
                    "no cohort attrition rules, no delivery effects)",
            **calib,
        },
    }
    _write_json(truth, out / "truth.json")
