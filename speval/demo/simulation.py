"""The one simulated timeline (April 2011 - June 2017) that every source is later cut from.

``simulate`` draws the population, its latent health, the referrals and the hospital events (with
the planted effect); the source modules only format, cut and damage this timeline, so HES, the
outcome tool and the truth can never disagree about who was referred when.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import streams
from .calibration import LTC_MONTHLY, LTC_REFERRED_PERSONS, MEASURES, MH_MONTHLY, MH_REFERRALS, POOL_MULTIPLIER, RR
from .health import expand_events, monthly_counts, shocks
from .population import Population, make_population, person_tokens, select_referrals, unlinked_referred
from .timeline import NEVER, month_index

Events = tuple[np.ndarray, np.ndarray]  # (person index, day number), one entry per event


@dataclass
class Simulation:
    seed: int
    scale: float
    pop: Population
    tokens: np.ndarray  # TOKEN_PERSON_ID per person index
    u: np.ndarray  # latent shock, (n, SIM_MONTHS)
    ltc: Events  # LTC referrals (person, referral day), in month order
    mh: Events  # MH referrals (person, referral day), in month order
    index_day: np.ndarray  # first referral day per person (NEVER = not referred)
    programme: np.ndarray  # 0 = LTC, 1 = MH, -1 = never referred
    unlinked: np.ndarray  # referred persons absent from persons.csv and HES (sorted)
    linked: np.ndarray  # bool per person
    events: list[Events]  # per MEASURES, linked persons only, effect applied


def simulate(seed: int, scale: float) -> Simulation:
    """Draw the whole timeline for the given seed and scale (each step has its own random stream)."""
    n_ltc, n_mh, n = _sizes(scale)
    pop = make_population(seed, n)
    tokens = person_tokens(seed, n)
    u = shocks(seed, n)
    counts = monthly_counts(seed, pop, u)
    ltc, mh = _referrals(seed, pop, counts, n_ltc, n_mh)
    index_day, programme = _index_dates(n, ltc, mh)
    unlinked = unlinked_referred(seed, programme)
    linked = np.ones(n, bool)
    linked[unlinked] = False
    events = _events(seed, pop, counts, index_day, linked)
    return Simulation(seed, scale, pop, tokens, u, ltc, mh, index_day, programme, unlinked, linked, events)


def _sizes(scale: float) -> tuple[int, int, int]:
    """Referred LTC persons, MH persons and the whole population (referred + never-referred pool)."""
    n_ltc = int(streams.alloc(round(LTC_REFERRED_PERSONS * scale), LTC_MONTHLY).sum())
    n_mh = int(round(MH_REFERRALS * scale))
    n_ref = n_ltc + n_mh
    return n_ltc, n_mh, n_ref + int(np.ceil(POOL_MULTIPLIER * n_ref))


def _referrals(seed, pop, counts, n_ltc: int, n_mh: int) -> tuple[Events, Events]:
    """LTC referrals, then MH referrals among the persons never referred to LTC."""
    n = pop.n
    ltc = select_referrals(seed, pop, counts, "LTC", streams.alloc(n_ltc, LTC_MONTHLY), month_index("2012-09-01"),
                           np.zeros(n, bool))
    taken = np.zeros(n, bool)
    taken[ltc[0]] = True
    mh = select_referrals(seed, pop, counts, "MH", streams.alloc(n_mh, MH_MONTHLY), month_index("2015-04-01"), taken)
    return ltc, mh


def _index_dates(n: int, ltc: Events, mh: Events) -> tuple[np.ndarray, np.ndarray]:
    """Per person: index (first referral) day and programme, the keys of the planted effect."""
    index_day = np.full(n, NEVER, dtype=np.int64)
    index_day[ltc[0]] = ltc[1]
    index_day[mh[0]] = mh[1]
    programme = np.full(n, -1, dtype=np.int8)
    programme[ltc[0]] = 0
    programme[mh[0]] = 1
    return index_day, programme


def _events(seed, pop, counts, index_day, linked) -> list[Events]:
    """Event days per measure with the effect applied by thinning after the index date; unlinked
    persons' events are dropped because no HES file can show them."""
    events = []
    for k, name in enumerate(MEASURES):
        p, d = expand_events(seed, name, counts[k], pop, index_day, RR[k])
        keep = linked[p]
        events.append((p[keep], d[keep]))
    return events
