"""Persons, practices and risk, and who gets referred (selected on a recent spike in hospital use).

One LTC-flagged, risk-stratified population is drawn once; a latent frailty drives LTC_COUNT, a noisy
RISK_SCORE and (in :mod:`speval.demo.health`) the base rates of hospital use.  Referrals are then
sampled month by month with a hazard that rises with risk *and* with recent events, which is what
makes a naive before/after comparison overstate the planted effect (regression to the mean).
Optionally (``spike_share``) part of each month's referrals is selected on a recent acute episode of the
person's own and dated 1-28 days after it (:func:`select_referrals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import streams
from .calibration import MODEL, N_PRACTICES, N_REFERRING
from .output import hex_tokens
from .timeline import (COVER_DAY, LAST_DAY, MONTH_START, NEVER, month_index, months_of, nth_weekday, to_day,
                       to_weekday, weekdays_before)


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
    reg_to: np.ndarray  # NEVER = still registered
    death: np.ndarray  # NEVER = alive
    referring: np.ndarray  # per practice bool
    practice_start: np.ndarray  # per practice month index referrals may start (large = never)
    practice_mult: np.ndarray
    practice_adviser: np.ndarray


# --------------------------------------------------------------------------------------
# Persons
# --------------------------------------------------------------------------------------


def make_population(seed: int, n: int) -> Population:
    """Draw n persons; the steps share one stream, so their order is part of the output."""
    rng = streams.rng(seed, "population")
    practice, referring, start, practice_mult, adviser = _practices(rng, n)
    lsoa, imd = _small_areas(rng, practice, n)
    yob, sex, frailty, ltc, risk = _health_profile(rng, n, imd)
    reg_from, reg_to, death = _registration(rng, n, frailty)
    return Population(n, practice, yob, sex, lsoa + 600, imd, ltc, risk, frailty, reg_from, reg_to, death,
                      referring, start, practice_mult, adviser)


def _practices(rng: np.random.Generator, n: int):
    """Practice of each person, and which practices refer from when (the LTC rollout), with a
    practice-level referral propensity and the adviser who covers each practice."""
    size = rng.gamma(5.0, 1.0, N_PRACTICES)
    practice = rng.choice(N_PRACTICES, size=n, p=size / size.sum())
    referring = np.zeros(N_PRACTICES, dtype=bool)
    referring[rng.choice(N_PRACTICES, N_REFERRING, replace=False)] = True
    # 18 practices refer from Sep 2012, the rest join over the following year (28 by Sep 2013)
    order = rng.permutation(np.nonzero(referring)[0])
    start = np.full(N_PRACTICES, 10**6, dtype=np.int64)
    sep12 = month_index("2012-09-01")
    start[order[:18]] = sep12
    start[order[18:28]] = sep12 + np.sort(rng.integers(1, 12, 10))
    start[order[28:]] = month_index("2013-11-01")
    practice_mult = rng.lognormal(0.0, 0.45, N_PRACTICES)
    adviser = rng.integers(0, 5, N_PRACTICES)
    return practice, referring, start, practice_mult, adviser


def _small_areas(rng: np.random.Generator, practice: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """LSOA (0..199) and its IMD decile for each person; deprivation clusters by practice."""
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
    return lsoa, lsoa_imd[lsoa]


def _health_profile(rng: np.random.Generator, n: int, imd: np.ndarray):
    """Age, sex, latent frailty and what the practice sees of it: LTC_COUNT and a noisy RISK_SCORE."""
    yob = np.clip(np.round(rng.normal(1942.0, 11.0, n)), 1915, 1992).astype(np.int64)
    sex = rng.choice(3, size=n, p=[0.47, 0.525, 0.005])
    frailty = rng.normal(0.0, 1.0, n) + 0.02 * (1945 - yob) + 0.04 * (5 - imd)
    ltc = np.clip(rng.poisson(np.exp(0.65 + 0.3 * frailty)), 0, 8)
    ltc = np.where((ltc == 0) & (rng.random(n) < 0.8), 1, ltc)  # LTC-flagged: few have no coded LTC
    logit = -1.7 + 0.95 * frailty + 0.15 * (ltc - 2) + rng.normal(0.0, 0.35, n)
    risk = np.round(np.clip(100.0 / (1.0 + np.exp(-logit)), 0.1, 99.9), 1)
    return yob, sex, frailty, ltc, risk


def _registration(rng: np.random.Generator, n: int, frailty: np.ndarray):
    """Registration period and death, so some persons enter late, leave or die during the timeline."""
    reg_from = to_day("1975-01-01") + rng.integers(0, to_day("2011-03-31") - to_day("1975-01-01"), n)
    late = rng.random(n) < 0.05
    reg_from[late] = to_day("2011-04-02") + rng.integers(0, to_day("2013-06-30") - to_day("2011-04-02"), late.sum())
    # deaths: annual hazard ~1% rising with frailty (a few % by 2016), never before registration
    hazard = 0.008 * np.exp(0.7 * frailty) / 365.25
    death = COVER_DAY + np.floor(rng.exponential(1.0 / hazard)).astype(np.int64)
    death = np.where((death <= LAST_DAY) & (death > reg_from), death, NEVER)
    reg_to = np.full(n, NEVER, dtype=np.int64)
    dereg = (rng.random(n) < 0.03) & (death == NEVER)
    reg_to[dereg] = to_day("2011-06-01") + rng.integers(0, LAST_DAY - to_day("2011-06-01"), dereg.sum())
    reg_to = np.where(reg_to > reg_from, reg_to, NEVER)
    return reg_from, reg_to, death


def person_tokens(seed: int, n: int) -> np.ndarray:
    """Distinct pseudonymous TOKEN_PERSON_IDs ("T" + 12 hex digits), in random order."""
    rng_tok = streams.rng(seed, "tokens")
    raw = np.unique(rng_tok.integers(0, 2**48, int(n * 1.05) + 10))
    return hex_tokens(rng_tok.permutation(raw)[:n])


# --------------------------------------------------------------------------------------
# Referral: selected on a recent spike
# --------------------------------------------------------------------------------------


@dataclass
class AfterEpisode:
    """The optional referral after an acute episode (``spike_share``): the share of each month's referral
    slots filled from persons with a recent emergency admission or A&E attendance, how many days after it
    the referral may fall, and those episodes (before the effect), sorted by day."""
    share: float
    days: int
    person: np.ndarray
    day: np.ndarray


def select_referrals(seed, pop, counts, programme, monthly, first_month, already,
                     spike: AfterEpisode | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample each month's referrals without replacement with weight ~ hazard (Efraimidis-Spirakis).

    Returns (person index, referral day, episode day) in month order; persons in ``already`` are never
    chosen. With ``spike``, a ``spike.share`` of each month's slots (rounded) is filled first, from the
    "spike-<programme>" stream, by :func:`_after_episode` (episode day = the episode the referral follows);
    the rest by the usual hazard among the persons left (episode day -1). Without it nothing else is drawn.
    """
    rng = streams.rng(seed, f"select-{programme}")
    rng_spike = streams.rng(seed, f"spike-{programme}") if spike is not None else None
    csum = _recent_events_cumsum(pop, counts)
    rz = (pop.risk - pop.risk.mean()) / pop.risk.std()
    chosen = np.zeros(pop.n, dtype=bool) | already
    persons, days, episodes = [], [], []
    n_months = len(monthly)
    for i, k in enumerate(monthly):
        t = first_month + i
        ms, me = int(MONTH_START[t]), int(MONTH_START[t + 1] - 1)
        elig, w = _eligible_and_weight(pop, programme, chosen, rz, t, i, n_months, ms, me)
        recent = csum[:, t] - csum[:, t - 3]
        w = w * (1.0 + recent) ** MODEL.alpha_recent
        k = int(min(k, elig.sum()))
        if spike is not None and k > 0:
            idx_s, day_s, ep_s = _after_episode(rng_spike, spike, elig, w, int(np.floor(spike.share * k + 0.5)), ms, me)
            elig[idx_s] = False
            chosen[idx_s] = True
            persons.append(idx_s)
            days.append(day_s)
            episodes.append(ep_s)
            k -= len(idx_s)
        key = np.where(elig, np.log(rng.random(pop.n)) / w, -np.inf)
        if k == 0:
            continue
        idx = np.sort(np.argpartition(-key, k - 1)[:k])
        day = ms + (rng.random(k) * (me - ms + 1)).astype(np.int64)
        day = to_weekday(day, np.full(k, ms), np.full(k, me))
        chosen[idx] = True
        persons.append(idx)
        days.append(day)
        episodes.append(np.full(k, -1, dtype=np.int64))
    if not persons:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    p, d, e = np.concatenate(persons), np.concatenate(days), np.concatenate(episodes)
    if spike is not None:  # month order, persons sorted within a month (as without the option)
        o = np.lexsort((p, months_of(d)))
        p, d, e = p[o], d[o], e[o]
    return p, d, e


def _after_episode(rng, spike: AfterEpisode, elig, w, n_take: int, ms: int, me: int):
    """Referral after an acute episode: up to ``n_take`` of the eligible persons with an emergency admission or
    A&E attendance that leaves a weekday of the month [ms, me] within ``spike.days`` days after it, drawn with
    the selection weights ``w``; their referral day is a weekday drawn uniformly from [episode + 1, episode +
    days] within the month (if those days are only a weekend, the next weekday). The episode is the person's
    EARLIEST such one: taking the latest would select people with no episode between the referral and the
    month's end, i.e. on their after window, a fall no comparison could or should reproduce.

    Returns (person index sorted, referral day, episode day).
    """
    empty = np.zeros(0, np.int64)
    if n_take == 0:
        return empty, empty, empty
    last_weekday = me - max((me + 3) % 7 - 4, 0)  # (day + 3) % 7: 0 = Monday .. 6 = Sunday
    a, b = np.searchsorted(spike.day, [ms - spike.days, last_weekday])  # episodes in [ms - days, last_weekday)
    p, d = spike.person[a:b], spike.day[a:b]
    ok = elig[p]
    none = np.iinfo(np.int64).max
    earliest = np.full(len(elig), none, dtype=np.int64)
    np.minimum.at(earliest, p[ok], d[ok])
    cand = np.nonzero(earliest < none)[0]
    n_take = min(n_take, len(cand))
    if n_take == 0:
        return empty, empty, empty
    key = np.log(rng.random(len(cand))) / w[cand]
    idx = np.sort(cand[np.argpartition(-key, n_take - 1)[:n_take]])
    e = earliest[idx]
    lo, hi = np.maximum(e + 1, ms), np.minimum(e + spike.days, me)
    first, n_wd = weekdays_before(lo), weekdays_before(hi + 1) - weekdays_before(lo)
    day = nth_weekday(first + (rng.random(n_take) * np.maximum(n_wd, 1)).astype(np.int64))
    return idx, day, e


def _recent_events_cumsum(pop: Population, counts: list[np.ndarray]) -> np.ndarray:
    """Cumulative weighted monthly event counts (column t = events before month t), so the
    "recent spike" over any 3 months is a difference of two columns."""
    signal = sum(w * c.astype(np.float32) for w, c in zip(MODEL.recent_weights, counts))
    return np.concatenate([np.zeros((pop.n, 1), dtype=np.float32), np.cumsum(signal, axis=1)], axis=1)


def _eligible_and_weight(pop, programme, chosen, rz, t, i, n_months, ms, me) -> tuple[np.ndarray, np.ndarray]:
    """Who may be referred in month t and their hazard weight before the recent-spike factor.

    LTC: only practices that have started referring, and the risk gradient flattens over the
    programme (early referrals are the highest-risk patients); MH: RDASH refers younger service users
    from any practice.
    """
    m = MODEL
    elig = (~chosen) & (pop.reg_from <= ms) & (pop.reg_to > me) & (pop.death > me)
    if programme == "LTC":
        elig &= pop.referring[pop.practice] & (pop.practice_start[pop.practice] <= t)
        beta = m.beta_risk_start + (m.beta_risk_end - m.beta_risk_start) * i / max(n_months - 1, 1)
        w = pop.practice_mult[pop.practice] * np.exp(beta * rz)
    else:
        w = np.exp(0.4 * rz + 0.03 * (pop.yob - 1945))
    return elig, w


def unlinked_referred(seed: int, programme: np.ndarray) -> np.ndarray:
    """~2% of referred persons whose records do not link: absent from persons.csv and all HES files."""
    rng_link = streams.rng(seed, "linkage")
    referred = np.nonzero(programme >= 0)[0]
    n_unlinked = max(1, int(round(0.02 * len(referred))))
    return np.sort(rng_link.choice(referred, n_unlinked, replace=False))
