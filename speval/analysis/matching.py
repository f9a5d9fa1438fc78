"""Matched comparison group: propensity score, greedy nearest-neighbour matching, balance, DiD effects.

Plain numpy (no Dagster, no DuckDB), so every step is testable on its own. The method follows MatchIt and
cobalt conventions (ADR 0012):

* `propensity_logit` — logistic regression of treatment on the covariates (standardised columns, intercept,
  tiny ridge), fitted by Newton–Raphson with step halving; returns the linear predictor (logit). The Hessian's
  blocks of rows are worked out on every core and added in block order: the same bits as on one core.
* `match` — exact matching on a stratum code (the referral week, ADR 0017), then greedy nearest neighbour on the logit
  within a caliper of `caliper` standard deviations of the logit (MatchIt `std.caliper = TRUE`), treated
  processed from the largest logit down (`m.order = "largest"`), k:1 in rounds, without or with replacement.
  No all-pairs distance matrix: candidates are sorted once and searched with `searchsorted`; without
  replacement a union-find "next free to the left / right" skips used candidates, so the cost is
  O((n + m) log m) rather than O(n·m). `Matcher` sorts the candidates once for many settings (the sensitivity
  grid), and `Matcher.match_all` matches the settings on every core.
* `smd` / `treated_sd` / `covariate_balance` (`balance_after`, its after-matching half) / `balance_table` —
  standardised mean differences, cobalt's ATT convention.
* `did_effect` — difference in differences per patient over matched sets, ATT-weighted, with a cluster
  bootstrap over matched sets for the 95% interval, and the ratio of rate ratios; optionally also a
  regression-adjusted DiD (given covariates), which removes the bias that residual pre-period imbalance leaves
  under regression to the mean (ADR 0012, planted-truth simulation).
* `matched_sets` — a MatchResult as member rows (set_id, row, is_treated, weight), the input of `did_effect`.
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import product

import numpy as np
from scipy.special import expit

from speval.run.vocabulary import UNMATCHED_REASONS

REASON_NO_CANDIDATES, REASON_CALIPER, REASON_USED_UP = (r.code for r in UNMATCHED_REASONS)

_CHUNK = 1 << 14  # rows per block of the weighted cross-product in propensity_logit


# --------------------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class MatchSettings:
    """Matching settings.

    caliper: width in standard deviations of the propensity-score logit over all rows (MatchIt std.caliper);
        `math.inf` means no caliper.
    ratio: k controls per treated (k:1).
    replace: False = a control PERSON is used at most once across all strata.
    seed: seed for the bootstrap run under these settings (matching itself is deterministic, no randomness).
    """

    caliper: float = 0.2
    ratio: int = 1
    replace: bool = False
    seed: int = 42


def sensitivity_grid() -> tuple[MatchSettings, ...]:
    """The settings of the report's sensitivity table: caliper 0.1 / 0.2 / 0.5 SD × ratio 1 / 3 / 5 × without /
    with replacement — all 18 combinations (each match takes well under a second at cohort scale, see
    bench/matching_scale.py). Ordered by caliper, then ratio, then replacement; the primary analysis,
    `MatchSettings()` (0.2 SD, 1:1, without replacement), is one of them."""
    return tuple(MatchSettings(caliper=c, ratio=k, replace=r)
                 for c, k, r in product((0.1, 0.2, 0.5), (1, 3, 5), (False, True)))


# --------------------------------------------------------------------------------------------------------------
# Propensity score


def propensity_logit(X: np.ndarray, treated: np.ndarray, ridge: float = 1e-4, max_iter: int = 100,
                     tol: float = 1e-9) -> np.ndarray:
    """Linear predictor (logit) of a logistic regression of `treated` on the columns of `X`, with an intercept.

    Columns are standardised (mean 0, SD 1 over all rows); constant columns carry no information and are
    dropped. The fit maximises the log-likelihood minus `ridge`/2 · ||beta||² (intercept unpenalised) by
    Newton–Raphson with step halving. The tiny ridge makes the optimum unique and finite even under perfect
    separation or collinear columns, where plain maximum likelihood diverges; elsewhere it changes the
    coefficients negligibly. Deterministic. Rows = treated rows + candidate rows.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(treated, dtype=bool)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] != y.shape[0] or y.ndim != 1:
        raise ValueError("X must be 2-D with one row per entry of treated")
    if not np.isfinite(X).all():
        raise ValueError("X contains missing or infinite values")
    n = X.shape[0]
    n_treated = int(y.sum())
    if n_treated == 0 or n_treated == n:
        raise ValueError("propensity model needs both treated and candidate rows")

    mean, sd = _column_mean_sd(X)
    cols = np.flatnonzero(sd > 1e-12 * np.maximum(1.0, np.abs(mean)))
    # z = (x - mean) / sd is never materialised (it would double the memory of X): the standardisation is
    # folded into the products, and the weighted cross-product is accumulated over blocks of rows.
    Xk = X if cols.size == X.shape[1] else X[:, cols]
    m, s = mean[cols], sd[cols]
    yf = y.astype(np.float64)
    p = cols.size + 1
    penalty = np.full(p, float(ridge))
    penalty[0] = 0.0

    def linear(beta: np.ndarray) -> np.ndarray:
        slopes = beta[1:] / s
        return Xk @ slopes + (beta[0] - m @ slopes)

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:  # (penalised log-likelihood, eta)
        eta = linear(beta)
        # log-likelihood sum(y*eta - log(1 + e^eta)), overflow-safe
        return float(yf @ eta - np.logaddexp(0.0, eta).sum() - 0.5 * penalty @ beta**2), eta

    beta = np.zeros(p)
    beta[0] = math.log(n_treated / (n - n_treated))
    value, eta = objective(beta)
    for _ in range(max_iter):
        mu = expit(eta)
        resid = yf - mu
        grad = np.empty(p)
        grad[0] = resid.sum()
        grad[1:] = (Xk.T @ resid - m * grad[0]) / s
        grad -= penalty * beta
        root_w = np.sqrt(mu * (1.0 - mu))
        hess = np.diag(penalty) + 1e-12 * np.eye(p)
        for part in _blocks(Xk, m, s, root_w):  # added in block order, so the sum is the same to the bit
            hess += part
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while True:
            candidate = beta + t * step
            new_value, new_eta = objective(candidate)
            if new_value >= value or t < 1e-10:
                break
            t *= 0.5
        if new_value < value:  # no ascent possible: at the optimum to numerical precision
            break
        converged = abs(new_value - value) <= tol * (1.0 + abs(value)) and np.max(np.abs(t * step)) < 1e-6
        beta, value, eta = candidate, new_value, new_eta
        if converged:
            break
    return eta


def _weighted_cross_product(X: np.ndarray, m: np.ndarray, s: np.ndarray, root_w: np.ndarray, start: int
                            ) -> np.ndarray:
    """b.T @ b for the rows start..start+_CHUNK of b = root_w · [1, (X - m) / s]. b is built transposed, one
    covariate per row, which reads the column-stored X in order (twice as fast); BLAS gives the same product."""
    stop = min(X.shape[0], start + _CHUNK)
    bt = np.empty((m.size + 1, stop - start))
    bt[0] = 1.0
    np.subtract(X[start:stop].T, m[:, None], out=bt[1:])
    bt[1:] /= s[:, None]
    bt *= root_w[None, start:stop]
    return bt @ bt.T


def _blocks(X: np.ndarray, m: np.ndarray, s: np.ndarray, root_w: np.ndarray) -> Iterator[np.ndarray]:
    """The weighted cross-products of the blocks of rows, in block order. Worked out on every core (numpy lets go
    of the interpreter lock inside each operation); each block's arithmetic is the same as on one core."""
    with _every_core() as pool:
        yield from pool.map(lambda start: _weighted_cross_product(X, m, s, root_w, start),
                            range(0, X.shape[0], _CHUNK))


def _every_core() -> ThreadPoolExecutor:
    """A thread per core, for numpy work that lets go of the interpreter lock; `map` keeps the input's order."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1)


def _column_mean_sd(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`X.mean(axis=0)` and `X.std(axis=0)`. A matrix stored column by column (the matching's covariates, from a
    data frame) is taken one column at a time: the same values (numpy sums each contiguous column the same way),
    without `X.std`'s temporary copy of the whole matrix (1.5 GB for a ×10 cohort)."""
    if not X.flags.f_contiguous:
        return X.mean(axis=0), X.std(axis=0)
    columns = range(X.shape[1])
    return np.array([X[:, j].mean() for j in columns]), np.array([X[:, j].std() for j in columns])


# --------------------------------------------------------------------------------------------------------------
# Matching


@dataclass(frozen=True)
class MatchResult:
    """Pairs in order of treated row, then the order the controls were taken (nearest first).

    weight: ATT weight of the control in the pair, 1 / (number of controls matched to that treated).
    unmatched_row / unmatched_reason: treated rows with no control, ascending, with why.
    caliper_width: the caliper on the logit scale actually used (settings.caliper × SD of the logit).
    """

    treated_row: np.ndarray
    control_row: np.ndarray
    weight: np.ndarray
    unmatched_row: np.ndarray
    unmatched_reason: np.ndarray
    caliper_width: float = field(default=math.inf)


def match(logit: np.ndarray, treated: np.ndarray, stratum: np.ndarray, person: np.ndarray,
          settings: MatchSettings) -> MatchResult:
    """Exact matching on `stratum`, then greedy nearest neighbour on `logit` within the caliper.

    Rows: each treated person once (in its stratum); a candidate person may have one row per stratum it is
    eligible in. `person` identifies individuals (any comparable values), so without replacement a person
    matched in one stratum is unavailable in every other. Distance ties go to the lowest row index; treated
    are processed by descending logit, ties by row index. With ratio k > 1, matching runs in k rounds (as
    MatchIt): every treated gets its first control before any gets a second; a treated that finds none in a
    round gets no more. A treated kept with 1..k-1 controls has weights 1/n_i.
    """
    return Matcher(logit, treated, stratum, person).match(settings)


class Matcher:
    """The inputs of `match`, checked, coded and sorted once, so that many settings (the sensitivity grid)
    can be matched on the same rows without repeating that work."""

    def __init__(self, logit: np.ndarray, treated: np.ndarray, stratum: np.ndarray, person: np.ndarray):
        logit = np.asarray(logit, dtype=np.float64)
        treated = np.asarray(treated, dtype=bool)
        stratum = np.asarray(stratum)
        person = np.asarray(person)
        n = logit.shape[0]
        if logit.ndim != 1 or any(a.shape != (n,) for a in (treated, stratum, person)):
            raise ValueError("logit, treated, stratum and person must be 1-D arrays of the same length")
        if not np.isfinite(logit).all():
            raise ValueError("logit contains missing or infinite values")

        t_rows = np.flatnonzero(treated)
        c_rows = np.flatnonzero(~treated)
        person_code = _codes(person)
        stratum_code = _codes(stratum)
        # The checks count rows per code (numpy's np.unique without an inverse hashes: seconds on millions of rows).
        n_persons = int(person_code.max()) + 1 if n else 0
        treated_rows_of = np.bincount(person_code[t_rows], minlength=n_persons)
        if (treated_rows_of > 1).any():
            raise ValueError("a treated person appears in more than one row")
        if (treated_rows_of[person_code[c_rows]] > 0).any():
            raise ValueError("a treated person also appears among the candidates")
        if c_rows.size:
            pairs = np.sort(person_code[c_rows] * (int(stratum_code.max()) + 1) + stratum_code[c_rows])
            if (pairs[1:] == pairs[:-1]).any():
                raise ValueError("a candidate person has more than one row in the same stratum")

        self.sd = float(np.std(logit, ddof=1)) if n > 1 else 0.0
        # Candidates sorted by (stratum, logit, row); each treated's stratum segment [lo, hi) and insertion point.
        order = np.lexsort((c_rows, logit[c_rows], stratum_code[c_rows]))
        cand = c_rows[order]
        c_str = stratum_code[cand]
        c_logit = logit[cand]
        t_str = stratum_code[t_rows]
        t_logit = logit[t_rows]
        lo = np.searchsorted(c_str, t_str, side="left")
        hi = np.searchsorted(c_str, t_str, side="right")
        pos = lo.copy()
        for s in np.unique(t_str):
            sel = t_str == s
            a, b = lo[sel][0], hi[sel][0]
            pos[sel] = a + np.searchsorted(c_logit[a:b], t_logit[sel], side="left")

        # Distance to the nearest candidate of the stratum when all are available (for the unmatched reasons).
        has_left = pos > lo
        has_right = pos < hi
        d_left = np.where(has_left, t_logit - c_logit[np.maximum(pos - 1, 0)], np.inf) if cand.size else \
            np.full(t_rows.size, np.inf)
        d_right = np.where(has_right, c_logit[np.minimum(pos, cand.size - 1)] - t_logit, np.inf) if cand.size else \
            np.full(t_rows.size, np.inf)
        self.nearest_all = np.minimum(d_left, d_right)
        self.t_rows, self.t_str, self.t_logit = t_rows, t_str, t_logit
        self.cand, self.c_str, self.c_logit, self.c_person = cand, c_str, c_logit, person_code[cand]
        self.lo, self.hi, self.pos = lo, hi, pos
        self._by_person = None  # positions of each candidate person's rows (matching without replacement)
        self._descending = None  # candidates by (stratum, logit descending, row) (matching with replacement)

    def _prepare(self, settings: Sequence[MatchSettings]) -> None:
        """Sort the candidates once for the kinds of matching in `settings`."""
        if self._descending is None and any(s.replace for s in settings):
            # (stratum, logit descending, row): lexsort is stable, and positions with the same stratum and logit
            # are already in row order, so the rows need no sort of their own (at ×10: 2.0 s → 0.6 s).
            self._descending = np.lexsort((-self.c_logit, self.c_str))
        if self._by_person is None and not all(s.replace for s in settings):
            self._by_person = _rows_by_person(self.c_person)

    def match_all(self, settings: Sequence[MatchSettings]) -> list[MatchResult]:
        """`match` under each of `settings`, in order, on every core: each setting's matching is independent and
        deterministic, and the shared sorted candidates are prepared first, so the threads only read them."""
        self._prepare(settings)
        with _every_core() as pool:
            return list(pool.map(self.match, settings))

    def match(self, settings: MatchSettings) -> MatchResult:
        """`match` under `settings` (see there)."""
        ratio = int(settings.ratio)
        if ratio < 1 or ratio != settings.ratio:
            raise ValueError("ratio must be a positive integer")
        if not settings.caliper > 0:
            raise ValueError("caliper must be > 0 (math.inf for none)")
        width = settings.caliper * self.sd if math.isfinite(settings.caliper) else math.inf
        t_rows, cand, lo, hi = self.t_rows, self.cand, self.lo, self.hi

        self._prepare([settings])
        if settings.replace:
            t_idx, c_pos = _match_with_replacement(self.t_logit, t_rows, self.t_str, self.c_logit, cand, self.c_str,
                                                  lo, hi, self.pos, ratio, width, self._descending)
        else:
            t_idx, c_pos = _match_without_replacement(self.t_logit, t_rows, self.c_logit, cand, self.c_str,
                                                      self.c_person, self._by_person, lo, hi, self.pos, ratio, width)

        # Pairs ordered by treated row, then match order (t_idx/c_pos are already in match order per treated).
        pair_order = np.argsort(t_rows[t_idx], kind="stable")
        t_idx, c_pos = t_idx[pair_order], c_pos[pair_order]
        n_per = np.bincount(t_idx, minlength=t_rows.size)
        unmatched = n_per == 0
        reason = np.where(lo == hi, REASON_NO_CANDIDATES,
                          np.where(self.nearest_all > width, REASON_CALIPER, REASON_USED_UP))
        return MatchResult(
            treated_row=t_rows[t_idx].astype(np.int64),
            control_row=cand[c_pos].astype(np.int64),
            weight=1.0 / n_per[t_idx].astype(np.float64),
            unmatched_row=t_rows[unmatched].astype(np.int64),
            unmatched_reason=reason[unmatched].astype(object).astype(str),
            caliper_width=width,
        )


def _codes(values: np.ndarray) -> np.ndarray:
    """Each value's place among the distinct values in order: `np.unique(values, return_inverse=True)[1]`.
    Small non-negative integers (the dense ranks and set ids the matching passes) are coded by counting them,
    without sorting millions of rows (×10: 1.1 s → 0.1 s for the persons of a cohort)."""
    if values.dtype.kind in "iu" and values.size and values.min() >= 0 and values.max() <= 4 * values.size:
        present = np.bincount(values) > 0
        return (np.cumsum(present) - 1)[values]
    return np.unique(values, return_inverse=True)[1].ravel()


def _processing_order(t_logit: np.ndarray, t_rows: np.ndarray) -> np.ndarray:
    """Treated in descending logit (MatchIt m.order = "largest"), ties by row index."""
    return np.lexsort((t_rows, -t_logit))


def _rows_by_person(c_person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions sorted by person, first and end index of each person's run): to withdraw all of a matched
    person's rows (every stratum) at once."""
    by_person = np.argsort(c_person, kind="stable")
    person_sorted = c_person[by_person]
    n_persons = int(c_person.max()) + 1 if c_person.size else 0
    p_start = np.searchsorted(person_sorted, np.arange(n_persons), side="left")
    p_end = np.searchsorted(person_sorted, np.arange(n_persons), side="right")
    return by_person, p_start, p_end


def _match_without_replacement(t_logit, t_rows, c_logit, cand, c_str, c_person, rows_by_person, lo, hi, pos, ratio,
                               width):
    """Greedy k:1 in rounds over a union-find of available candidate positions.

    right[i] points towards the first available position >= i (len(cand) = none); left[i + 1] towards the last
    available position <= i (index 0 = none). Removing position p links p to p + 1 (right) and p + 1 to p
    (left); finds use path halving, so each find is amortised near-constant and the whole match is
    O((n + m) log m) for the sorting plus O(k·n + m) near-constant steps.
    """
    m = cand.size
    right = np.arange(m + 1, dtype=np.int64)
    left = np.arange(m + 1, dtype=np.int64)
    # first position of each run of equal (stratum, logit): the lowest row among exact ties
    new_block = np.ones(m, dtype=bool)
    if m > 1:
        new_block[1:] = (c_str[1:] != c_str[:-1]) | (c_logit[1:] != c_logit[:-1])
    block_start = np.maximum.accumulate(np.where(new_block, np.arange(m), 0)) if m else new_block.astype(np.int64)
    by_person, p_start, p_end = rows_by_person

    def find_right(i: int) -> int:
        while right[i] != i:
            right[i] = right[right[i]]
            i = right[i]
        return int(i)

    def find_left(i: int) -> int:  # i is a shifted index (position + 1)
        while left[i] != i:
            left[i] = left[left[i]]
            i = left[i]
        return int(i) - 1

    # per-treated values as Python scalars for the loop; the candidate arrays stay numpy (touched a few times per
    # pick, whereas lists of a million boxed values would cost ~100 MB)
    t_logit_l = t_logit.tolist()
    lo_l, hi_l, pos_l = lo.tolist(), hi.tolist(), pos.tolist()

    out_t: list[int] = []
    out_c: list[int] = []
    active = [int(i) for i in _processing_order(t_logit, t_rows) if lo[i] < hi[i]]
    for _ in range(ratio):
        still = []
        for i in active:
            a, b, p, x = lo_l[i], hi_l[i], pos_l[i], t_logit_l[i]
            r = find_right(p)
            r = r if r < b else -1
            q = find_left(p) if p > a else -1  # last available position <= p - 1
            q = q if q >= a else -1
            if q >= 0:  # lowest row among available candidates tied at that logit
                q = find_right(block_start[q])
            if r < 0 and q < 0:
                continue
            dr = float(c_logit[r]) - x if r >= 0 else math.inf
            dq = x - float(c_logit[q]) if q >= 0 else math.inf
            if dq < dr or (dq == dr and cand[q] < cand[r]):
                best, dist = q, dq
            else:
                best, dist = r, dr
            if dist > width:
                continue
            out_t.append(i)
            out_c.append(best)
            still.append(i)
            person_code = c_person[best]
            for k in by_person[p_start[person_code]:p_end[person_code]].tolist():
                right[k] = k + 1
                left[k + 1] = k
        active = still
    return np.asarray(out_t, dtype=np.int64), np.asarray(out_c, dtype=np.int64)


def _match_with_replacement(t_logit, t_rows, t_str, c_logit, cand, c_str, lo, hi, pos, ratio, width, desc):
    """Each treated takes its k nearest candidates of the stratum within the caliper, independently
    (vectorised). The k nearest lie among the k positions to the right of the insertion point (ascending
    logit, ties by row) and the k to its left; the left side is read from a copy sorted by (stratum, logit
    descending, row) so that exact ties also go to the lowest row."""
    m = cand.size
    n_t = t_rows.size
    if m == 0 or n_t == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    k = ratio
    steps = np.arange(k)
    # right side: positions pos .. pos + k - 1 of the ascending array
    r_pos = pos[:, None] + steps
    r_ok = r_pos < hi[:, None]
    r_pos = np.where(r_ok, r_pos, 0)
    r_dist = np.where(r_ok, c_logit[r_pos] - t_logit[:, None], np.inf)
    # left side: the descending copy (`desc`); within a stratum segment the same [lo, hi) bounds apply
    d_logit = c_logit[desc]
    q0 = lo.copy()
    for s in np.unique(t_str):
        sel = t_str == s
        a, b = lo[sel][0], hi[sel][0]
        # first position in the descending segment with logit < treated logit
        q0[sel] = a + np.searchsorted(-d_logit[a:b], -t_logit[sel], side="right")
    l_pos = q0[:, None] + steps
    l_ok = l_pos < hi[:, None]
    l_pos = np.where(l_ok, l_pos, 0)
    l_dist = np.where(l_ok, t_logit[:, None] - d_logit[l_pos], np.inf)
    l_pos_asc = desc[l_pos]  # back to positions in the ascending array

    dist = np.concatenate([r_dist, l_dist], axis=1)
    cpos = np.concatenate([r_pos, l_pos_asc], axis=1)
    crow = cand[cpos]
    ranked = np.lexsort((crow, dist), axis=1)[:, :k]
    dist = np.take_along_axis(dist, ranked, axis=1)
    cpos = np.take_along_axis(cpos, ranked, axis=1)
    ok = np.isfinite(dist) & (dist <= width)  # also drops the padding beyond the stratum
    t_idx = np.broadcast_to(np.arange(n_t)[:, None], ok.shape)[ok]
    return t_idx.astype(np.int64), cpos[ok].astype(np.int64)


def matched_sets(result: MatchResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Member rows of the matched sets, the input shape of `did_effect`: (set_id, row, is_treated, weight).
    One set per matched treated (numbered by ascending treated row): the treated row with weight 1, then its
    controls with their ATT weights."""
    treated_rows, set_of_pair = np.unique(result.treated_row, return_inverse=True)
    n_sets = treated_rows.size
    set_id = np.concatenate([np.arange(n_sets), set_of_pair.ravel()]).astype(np.int64)
    row = np.concatenate([treated_rows, result.control_row]).astype(np.int64)
    is_treated = np.concatenate([np.ones(n_sets, dtype=bool), np.zeros(result.control_row.size, dtype=bool)])
    weight = np.concatenate([np.ones(n_sets), result.weight]).astype(np.float64)
    return set_id, row, is_treated, weight


# --------------------------------------------------------------------------------------------------------------
# Balance


def treated_sd(x_treated: np.ndarray) -> float:
    """Denominator of the SMD: SD of the covariate over ALL treated before matching (cobalt s.d.denom =
    "treated"). Binary (0/1) covariates: sqrt(p(1 - p)); others: sample SD (n - 1)."""
    x = np.asarray(x_treated, dtype=np.float64)
    if x.size == 0:
        return 0.0
    if np.isin(x, (0.0, 1.0)).all():
        p = float(x.mean())
        return math.sqrt(p * (1.0 - p))
    return float(np.std(x, ddof=1)) if x.size > 1 else 0.0


def smd(x_treated: np.ndarray, x_control: np.ndarray, w_control: np.ndarray | None, sd_treated: float) -> float:
    """Standardised mean difference, cobalt's ATT convention: (mean_t − weighted mean_c) / sd_treated, where
    sd_treated is the SD among ALL treated before matching (`treated_sd`), the same denominator before and
    after matching. Binary covariates are standardised too.

    As cobalt: a mean difference that is zero (|d| < sqrt(machine eps)) gives 0.0 whatever the SD; a non-zero
    difference over a zero SD (every treated has the same value, the controls differ) gives ±inf — it cannot
    be standardised and must never read as balanced. NaN when either group is empty.
    """
    xt = np.asarray(x_treated, dtype=np.float64)
    xc = np.asarray(x_control, dtype=np.float64)
    if xt.size == 0 or xc.size == 0:
        return math.nan
    if w_control is None:
        mean_c = float(xc.mean())
    else:
        w = np.asarray(w_control, dtype=np.float64)
        if w.shape != xc.shape or w.sum() <= 0:
            raise ValueError("w_control must match x_control and have a positive sum")
        mean_c = float(w @ xc / w.sum())
    diff = float(xt.mean()) - mean_c
    if abs(diff) < math.sqrt(np.finfo(float).eps):
        return 0.0
    if not sd_treated > 0:
        return math.copysign(math.inf, diff)
    return diff / float(sd_treated)


def variance_ratio(x_treated: np.ndarray, x_control: np.ndarray, w_control: np.ndarray) -> float | None:
    """Treated variance over the (weighted) control variance; None when either is undefined."""
    if len(x_treated) < 2 or len(x_control) < 2 or w_control.sum() <= 0:
        return None
    mean = np.average(x_control, weights=w_control)
    vc = float(np.average((x_control - mean) ** 2, weights=w_control))
    return float(np.var(x_treated, ddof=1)) / vc if vc > 0 else None


def covariate_balance(x_treated: np.ndarray, x_candidates: np.ndarray, x_treated_after: np.ndarray,
                      x_controls_after: np.ndarray, w_controls_after: np.ndarray) -> dict:
    """One covariate's balance: SMD before matching (all treated vs all candidate rows, unweighted) and after
    (matched treated vs their controls, ATT-weighted), both over the all-treated SD; and the variance ratio
    after matching (NaN / None when there are no controls)."""
    sd = treated_sd(x_treated)
    return {"smd_before": smd(x_treated, x_candidates, None, sd),
            **balance_after(sd, x_treated_after, x_controls_after, w_controls_after)}


def balance_after(sd_treated: float, x_treated_after: np.ndarray, x_controls_after: np.ndarray,
                  w_controls_after: np.ndarray) -> dict:
    """The after-matching half of `covariate_balance` (the SMD over the all-treated SD `sd_treated`, and the
    variance ratio): what differs between matching settings, the candidates before matching being the same for
    all."""
    matched = np.asarray(x_controls_after).size > 0
    return {
        "smd_after": smd(x_treated_after, x_controls_after, w_controls_after, sd_treated) if matched else math.nan,
        "variance_ratio_after": variance_ratio(x_treated_after, x_controls_after, w_controls_after)
        if matched else None,
    }


def balance_table(X: np.ndarray, treated: np.ndarray, result: MatchResult,
                  names: list[str] | None = None) -> list[dict]:
    """`covariate_balance` of every column of X, the treated and candidates being X's rows and the matched sets
    those of `result`."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    treated = np.asarray(treated, dtype=bool)
    names = names or [f"x{j}" for j in range(X.shape[1])]
    matched_t = np.unique(result.treated_row)
    return [{"covariate": name, **covariate_balance(X[treated, j], X[~treated, j], X[matched_t, j],
                                                    X[result.control_row, j], result.weight)}
            for j, name in enumerate(names)]


# --------------------------------------------------------------------------------------------------------------
# Effects


@dataclass(frozen=True)
class Effect:
    treated_before: float
    treated_after: float
    control_before: float
    control_after: float
    did: float
    did_ci_low: float
    did_ci_high: float
    rate_ratio: float | None
    rr_ci_low: float | None
    rr_ci_high: float | None
    # regression-adjusted DiD, only when did_effect is given covariates (see there); None otherwise
    did_adjusted: float | None = None
    did_adjusted_ci_low: float | None = None
    did_adjusted_ci_high: float | None = None
    # the rate ratio the adjusted DiD implies: treated_after / (treated_after - did_adjusted), the treated
    # after-rate over its adjusted counterfactual; None when that counterfactual is not positive
    rate_ratio_adjusted: float | None = None
    rr_adjusted_ci_low: float | None = None
    rr_adjusted_ci_high: float | None = None
    # the bootstrap replicates of `did` (replicate b of every measure of a cohort resamples the same matched sets:
    # same seed, same sets), so quantities built from several measures get intervals from one distribution
    did_replicates: np.ndarray | None = field(default=None, repr=False, compare=False)


def _effect_stats(s: np.ndarray) -> tuple[np.ndarray, ...]:
    """From per-set (or resampled) column sums [n_t, t_before, t_after, w_c, c_before, c_after] (last axis),
    the four means, the DiD and the ratio of rate ratios (NaN where a denominator is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tb, ta = s[..., 1] / s[..., 0], s[..., 2] / s[..., 0]
        cb, ca = s[..., 4] / s[..., 3], s[..., 5] / s[..., 3]
        did = (ta - tb) - (ca - cb)
        ok = (tb != 0) & (cb != 0) & (ca != 0)
        rr = np.where(ok, (ta / np.where(ok, tb, 1.0)) / (np.where(ok, ca, 1.0) / np.where(ok, cb, 1.0)), np.nan)
    return tb, ta, cb, ca, did, rr


def _adjusted_features(covariates: np.ndarray, is_treated: np.ndarray, wc: np.ndarray, change: np.ndarray,
                       codes: np.ndarray, n_sets: int) -> tuple[np.ndarray, int]:
    """Per-set sums for the regression adjustment: treated Σz, control Σw·zzᵀ and Σw·z·Δ, with z = [1,
    standardised covariates] (constant columns dropped). Returns (S × F array, q = len(z))."""
    X = np.asarray(covariates, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != codes.shape[0] or not np.isfinite(X).all():
        raise ValueError("covariates must be finite with one row per member row")
    sd = X.std(axis=0)
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(X.mean(axis=0)))
    Z = np.ones((X.shape[0], int(keep.sum()) + 1))
    Z[:, 1:] = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    q = Z.shape[1]
    columns = [lambda j=j: Z[:, j] * is_treated for j in range(q)]
    columns += [lambda j=j, k=k: Z[:, j] * Z[:, k] * wc for j in range(q) for k in range(q)]
    columns += [lambda j=j: Z[:, j] * wc * change for j in range(q)]
    per_set = np.empty((n_sets, len(columns)))
    for j, column in enumerate(columns):  # one column at a time: no rows x q² temporary
        per_set[:, j] = np.bincount(codes, weights=column(), minlength=n_sets)
    return per_set, q


def _adjusted_did(base: np.ndarray, extra: np.ndarray, q: int) -> np.ndarray:
    """did_adjusted = mean treated change − μ̂_c(z̄_t), where μ̂_c is the weighted least-squares fit of the
    control change on z (solved from the summed normal equations, a 1e-9 relative ridge on the slopes only
    guarding against a singular resample)."""
    n_t = base[..., 0]
    dt = (base[..., 2] - base[..., 1]) / n_t
    zt = extra[..., :q] / n_t[..., None]
    G = extra[..., q:q + q * q].reshape(*extra.shape[:-1], q, q)
    h = extra[..., q + q * q:]
    ridge = np.eye(q)
    ridge[0, 0] = 0.0
    scale = np.trace(G, axis1=-2, axis2=-1)[..., None, None]
    beta = np.linalg.solve(G + 1e-9 * scale * ridge, h[..., None])[..., 0]
    return dt - np.sum(beta * zt, axis=-1)


def did_effect(set_id: np.ndarray, is_treated: np.ndarray, weight: np.ndarray, before: np.ndarray,
               after: np.ndarray, n_boot: int = 1000, seed: int = 42, level: float = 0.95,
               covariates: np.ndarray | None = None) -> Effect:
    """Difference in differences over matched sets, per patient, with a cluster bootstrap over sets.

    Rows are members of matched sets: each set has its treated row(s) and its controls with ATT weights
    (summing to 1 per treated). Treated means are plain means over treated rows; control means are
    sum(w·x) / sum(w) over control rows. did = (treated_after − treated_before) − (control_after −
    control_before). rate_ratio = (treated_after / treated_before) / (control_after / control_before), None
    when treated_before, control_before or control_after is 0.

    Interval: resample whole matched sets with replacement (`n_boot` replicates, seeded), recompute every
    statistic, take the percentile interval at `level`. Replicates where the rate ratio is undefined are left
    out of its interval (None if none is defined). No sets → every estimate NaN / None.

    Optional `covariates` (one row per member row, e.g. the matching covariates): also returns a
    regression-adjusted DiD (`did_adjusted`, with its interval from the same replicates, re-fitting the
    regression in each): the control change (after − before) is regressed on the covariates over the control
    rows (ATT-weighted least squares), and the treated mean change is compared with that fit at the treated
    mean covariates — i.e. did − β·(x̄_treated − x̄_control). It removes the bias that residual imbalance in
    the pre-period count leaves in the plain DiD under regression to the mean (ADR 0012). The plain
    estimates and intervals are identical with or without `covariates`.
    """
    set_id = np.asarray(set_id)
    is_treated = np.asarray(is_treated, dtype=bool)
    weight = np.asarray(weight, dtype=np.float64)
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    n = set_id.shape[0]
    if any(a.shape != (n,) for a in (is_treated, weight, before, after)):
        raise ValueError("set_id, is_treated, weight, before and after must be 1-D and the same length")
    if not (np.isfinite(weight).all() and np.isfinite(before).all() and np.isfinite(after).all()):
        raise ValueError("weights and outcomes must be finite")
    if (weight[~is_treated] < 0).any():
        raise ValueError("control weights must be non-negative")
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError("level must be in (0, 1) and n_boot >= 1")
    if n == 0:
        nan = math.nan
        return Effect(nan, nan, nan, nan, nan, nan, nan, None, None, None)

    codes = _codes(set_id)
    n_sets = int(codes.max()) + 1
    t = is_treated.astype(np.float64)
    wc = np.where(is_treated, 0.0, weight)
    per_set = np.stack([np.bincount(codes, weights=v, minlength=n_sets)
                        for v in (t, t * before, t * after, wc, wc * before, wc * after)], axis=1)
    if (per_set[:, 0] == 0).any() or (per_set[:, 3] <= 0).any():
        raise ValueError("every matched set needs a treated row and a control with positive weight")
    extra, q = (None, 0) if covariates is None else \
        _adjusted_features(covariates, is_treated, wc, after - before, codes, n_sets)

    tb, ta, cb, ca, did, rr = (float(v) for v in _effect_stats(per_set.sum(axis=0)))
    adjusted = None if extra is None else float(_adjusted_did(per_set.sum(axis=0), extra.sum(axis=0), q))

    did_reps, rr_reps, adj_reps, adj_rr_reps = [], [], [], []
    for counts in _bootstrap_counts(n_sets, n_boot, seed):
        resampled = counts @ per_set
        stats = _effect_stats(resampled)
        did_reps.append(stats[4])
        rr_reps.append(stats[5])
        if extra is not None:
            adj_reps.append(_adjusted_did(resampled, counts @ extra, q))
            adj_rr_reps.append(_implied_rate_ratio(stats[1], adj_reps[-1]))
    did_reps = np.concatenate(did_reps)
    rr_reps = np.concatenate(rr_reps)
    alpha = (1.0 - level) / 2.0
    did_low, did_high = (float(v) for v in np.quantile(did_reps, [alpha, 1.0 - alpha]))
    rr_defined = np.isfinite(rr)
    rr_ok = rr_reps[np.isfinite(rr_reps)]
    if rr_defined and rr_ok.size:
        rr_low, rr_high = (float(v) for v in np.quantile(rr_ok, [alpha, 1.0 - alpha]))
    else:
        rr_low = rr_high = None
    adj_low = adj_high = rr_adj = rr_adj_low = rr_adj_high = None
    if extra is not None:
        adj_low, adj_high = (float(v) for v in np.quantile(np.concatenate(adj_reps), [alpha, 1.0 - alpha]))
        implied = float(_implied_rate_ratio(np.float64(ta), np.float64(adjusted)))
        rr_adj_reps = np.concatenate(adj_rr_reps)
        rr_adj_reps = rr_adj_reps[np.isfinite(rr_adj_reps)]
        if math.isfinite(implied) and rr_adj_reps.size:
            rr_adj = implied
            rr_adj_low, rr_adj_high = (float(v) for v in np.quantile(rr_adj_reps, [alpha, 1.0 - alpha]))
    return Effect(treated_before=tb, treated_after=ta, control_before=cb, control_after=ca, did=did,
                  did_ci_low=did_low, did_ci_high=did_high, rate_ratio=rr if rr_defined else None,
                  rr_ci_low=rr_low, rr_ci_high=rr_high, did_adjusted=adjusted, did_adjusted_ci_low=adj_low,
                  did_adjusted_ci_high=adj_high, rate_ratio_adjusted=rr_adj, rr_adjusted_ci_low=rr_adj_low,
                  rr_adjusted_ci_high=rr_adj_high, did_replicates=did_reps)


@functools.lru_cache(maxsize=1)
def _bootstrap_counts(n_sets: int, n_boot: int, seed: int) -> tuple[np.ndarray, ...]:
    """How many times each matched set is drawn in each bootstrap replicate (replicates × sets, in blocks of
    replicates). They depend only on the number of sets, the replicates and the seed, so the measures of one
    setting and cohort, estimated one after the other, share them: the last ones are kept (read-only)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, 4_000_000 // n_sets))
    blocks = []
    for done in range(0, n_boot, chunk):
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n_sets, size=(b, n_sets))
        counts = np.bincount((draws + (np.arange(b) * n_sets)[:, None]).ravel(),
                             minlength=b * n_sets).reshape(b, n_sets).astype(np.float64)
        counts.flags.writeable = False
        blocks.append(counts)
    return tuple(blocks)


def _implied_rate_ratio(treated_after: np.ndarray, did_adjusted: np.ndarray) -> np.ndarray:
    """treated_after / (treated_after - did_adjusted): the treated after-rate over the after-rate the adjusted
    comparison expects without referral; NaN where that counterfactual is not positive."""
    counterfactual = treated_after - did_adjusted
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counterfactual > 0, treated_after / np.where(counterfactual > 0, counterfactual, 1.0), np.nan)
