"""Latent health: monthly hospital-use rates, event counts, and event days with the planted effect.

monthly rate_k = base_k(person) * exp(load_k * u_t - load_k^2 sigma^2 / 2) * season_k(t), where u is
an AR(1) log-rate shock shared by the four measures.  The effect is planted by thinning: from the
index date on, each event survives with probability RR_k.
"""

from __future__ import annotations

import numpy as np

from . import streams
from .calibration import MEASURES, MODEL
from .population import Population
from .timeline import DAYS_IN_MONTH, LAST_DAY, MONTH_START, SIM_MONTHS


def shocks(seed: int, n: int) -> np.ndarray:
    """The shared AR(1) log-rate shock u, shape (n, SIM_MONTHS), stationary from month 0."""
    rng = streams.rng(seed, "shocks")
    m = MODEL
    u = np.empty((n, SIM_MONTHS), dtype=np.float32)
    u[:, 0] = rng.normal(0.0, m.sigma, n)
    innov = m.sigma * np.sqrt(1.0 - m.rho**2)
    for t in range(1, SIM_MONTHS):
        u[:, t] = m.rho * u[:, t - 1] + rng.normal(0.0, innov, n).astype(np.float32)
    return u


def _base_monthly(pop: Population, k: int) -> np.ndarray:
    """Person-level monthly base rate of measure k: rises with frailty and LTC_COUNT."""
    m = MODEL
    return (m.base_annual[k] / 12.0) * np.exp(m.frailty_loading[k] * pop.frailty + m.ltc_loading[k] * (pop.ltc - 2))


def _season(k: int) -> np.ndarray:
    """Winter multiplier of measure k per simulated month (peak in January)."""
    cal_month = (np.arange(SIM_MONTHS) + 3) % 12  # 0 = January (simulation starts in April)
    return 1.0 + MODEL.winter_amplitude[k] * np.cos(2 * np.pi * cal_month / 12.0)


def rates(pop: Population, u: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Latent monthly rate (no effect, no death) for measure k; rows selects persons."""
    m = MODEL
    base = _base_monthly(pop, k)
    uu = u if rows is None else u[rows]
    b = base if rows is None else base[rows]
    lo = m.shock_loading[k]
    return b[:, None] * np.exp(lo * uu.astype(np.float64) - 0.5 * (lo * m.sigma) ** 2) * _season(k)[None, :]


def monthly_counts(seed: int, pop: Population, u: np.ndarray) -> list[np.ndarray]:
    """Poisson event counts per person and month, one (n, SIM_MONTHS) array per measure (no effect yet)."""
    out = []
    for k, name in enumerate(MEASURES):
        rng = streams.rng(seed, f"counts-{name}")
        out.append(rng.poisson(rates(pop, u, k)).astype(np.int16))
    return out



def draw_events(seed: int, name: str, counts: np.ndarray, pop: Population):
    """Monthly counts -> (person, day, thin) per event before the effect: days uniform in the month,
    none after death or the last cut-off; ``thin`` is each event's uniform draw for :func:`apply_effect`.

    Days and thinning draws come from the same "expand-<name>" stream as one block, so the events do
    not depend on the index dates (with ``spike_share`` the referrals are partly selected from them, see
    population.select_referrals)."""
    rng = streams.rng(seed, f"expand-{name}")
    p, t = np.nonzero(counts)
    rep = counts[p, t].astype(np.int64)
    p = np.repeat(p, rep)
    t = np.repeat(t, rep)
    day = MONTH_START[t] + (rng.random(len(p)) * DAYS_IN_MONTH[t]).astype(np.int64)
    thin = rng.random(len(p))
    keep = (day <= pop.death[p]) & (day <= LAST_DAY)
    return p[keep], day[keep], thin[keep]


def apply_effect(p: np.ndarray, day: np.ndarray, thin: np.ndarray, index_day: np.ndarray, rr: float):
    """The planted effect: events on or after the person's index date are kept with probability rr."""
    keep = ~((day >= index_day[p]) & (thin >= rr))
    return p[keep], day[keep]


def expand_events(seed: int, name: str, counts: np.ndarray, pop: Population, index_day: np.ndarray, rr: float):
    """Monthly counts -> (person, day) events with the planted effect (:func:`draw_events` then
    :func:`apply_effect`)."""
    return apply_effect(*draw_events(seed, name, counts, pop), index_day, rr)
