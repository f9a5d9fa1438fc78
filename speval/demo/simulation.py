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
from .health import apply_effect, draw_events, monthly_counts, shocks
from .population import (AfterEpisode, Population, make_population, person_tokens, select_referrals,
                         unlinked_referred)
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
    spike: dict | None = None  # the referral-after-an-episode setting and its size (None = off)


def simulate(seed: int, scale: float, spike_share: float = 0.0, spike_days: int = 28) -> Simulation:
    """Draw the whole timeline for the given seed and scale (each step has its own random stream).

    Order: events are drawn before the effect, referrals are selected (with ``spike_share`` > 0 partly
    from those events, see :func:`population.select_referrals`), the index days are fixed, and the effect
    is applied from them. With the default 0 nothing extra is drawn and the timeline is unchanged.
    """
    if not 0 <= spike_share <= 1:
        raise ValueError("spike_share must be between 0 and 1")
    if spike_days < 1:
        raise ValueError("spike_days must be at least 1")
    n_ltc, n_mh, n = _sizes(scale)
    pop = make_population(seed, n)
    tokens = person_tokens(seed, n)
    u = shocks(seed, n)
    counts = monthly_counts(seed, pop, u)
    drawn = [draw_events(seed, name, counts[k], pop) for k, name in enumerate(MEASURES)]
    after = _acute_episodes(drawn, spike_share, spike_days) if spike_share > 0 else None
    ltc, mh, episode = _referrals(seed, pop, counts, n_ltc, n_mh, after)
    index_day, programme = _index_dates(n, ltc, mh)
    unlinked = unlinked_referred(seed, programme)
    linked = np.ones(n, bool)
    linked[unlinked] = False
    spike = _spike_summary(after, ltc, mh, episode, linked) if after is not None else None
    events = _events(drawn, index_day, linked)
    return Simulation(seed, scale, pop, tokens, u, ltc, mh, index_day, programme, unlinked, linked, events, spike)


def _acute_episodes(drawn, share: float, days: int) -> AfterEpisode:
    """Emergency admissions and A&E attendances as drawn (before the effect), sorted by day."""
    p = np.concatenate([drawn[MEASURES.index(m)][0] for m in ("emergency", "ae")])
    d = np.concatenate([drawn[MEASURES.index(m)][1] for m in ("emergency", "ae")])
    o = np.argsort(d, kind="stable")
    return AfterEpisode(share, days, p[o], d[o])


def _spike_summary(after: AfterEpisode, ltc: Events, mh: Events, episode: tuple[np.ndarray, np.ndarray],
                   linked: np.ndarray) -> dict:
    """Size of the referral-after-an-episode setting, for truth.json."""
    persons = np.concatenate([ltc[0], mh[0]])
    days = np.concatenate([ltc[1], mh[1]])
    e = np.concatenate(episode)
    after_ep = e >= 0
    return {
        "share": after.share,
        "days": after.days,
        "referred_persons": int(len(persons)),
        "referred_persons_after_episode": int(after_ep.sum()),
        "linked_referred_persons_after_episode": int(linked[persons[after_ep]].sum()),
        "mean_days_after_episode": (round(float(np.mean(days[after_ep] - e[after_ep])), 2)
                                    if after_ep.any() else None),
    }


def _sizes(scale: float) -> tuple[int, int, int]:
    """Referred LTC persons, MH persons and the whole population (referred + never-referred pool)."""
    n_ltc = int(streams.alloc(round(LTC_REFERRED_PERSONS * scale), LTC_MONTHLY).sum())
    n_mh = int(round(MH_REFERRALS * scale))
    n_ref = n_ltc + n_mh
    return n_ltc, n_mh, n_ref + int(np.ceil(POOL_MULTIPLIER * n_ref))


def _referrals(seed, pop, counts, n_ltc: int, n_mh: int, after: AfterEpisode | None):
    """LTC referrals, then MH referrals among the persons never referred to LTC (both with the same
    referral-after-an-episode share when ``after`` is given); also each referral's episode day (-1 = none)."""
    n = pop.n
    lp, ld, le = select_referrals(seed, pop, counts, "LTC", streams.alloc(n_ltc, LTC_MONTHLY),
                                  month_index("2012-09-01"), np.zeros(n, bool), after)
    taken = np.zeros(n, bool)
    taken[lp] = True
    mp, md, me = select_referrals(seed, pop, counts, "MH", streams.alloc(n_mh, MH_MONTHLY), month_index("2015-04-01"),
                                  taken, after)
    return (lp, ld), (mp, md), (le, me)


def _index_dates(n: int, ltc: Events, mh: Events) -> tuple[np.ndarray, np.ndarray]:
    """Per person: index (first referral) day and programme, the keys of the planted effect."""
    index_day = np.full(n, NEVER, dtype=np.int64)
    index_day[ltc[0]] = ltc[1]
    index_day[mh[0]] = mh[1]
    programme = np.full(n, -1, dtype=np.int8)
    programme[ltc[0]] = 0
    programme[mh[0]] = 1
    return index_day, programme


def _events(drawn, index_day, linked) -> list[Events]:
    """Event days per measure with the effect applied by thinning from the index date on; unlinked
    persons' events are dropped because no HES file can show them."""
    events = []
    for k in range(len(MEASURES)):
        p, d = apply_effect(*drawn[k], index_day, RR[k])
        keep = linked[p]
        events.append((p[keep], d[keep]))
    return events
