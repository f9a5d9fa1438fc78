"""The social prescribing outcome tool: referrals, onward referrals and wellbeing assessments.

``simulate_outcome_tool`` builds the records on the whole timeline with their final values (one random
stream, so the steps run in a fixed order); ``write_exports`` cuts them into the cumulative exports,
showing each referral's status as of the cut-off and planting a few referrals dated just after it.
"""

from __future__ import annotations

import pathlib

import numpy as np
import polars as pl

from . import output, streams
from .calibration import WELLBEING
from .constants import (
    DELIVERIES,
    LTC_SOURCES,
    LTC_SOURCES_P,
    MH_SOURCES,
    MH_SOURCES_P,
    N_LATE_REFERRALS,
    PROVIDERS,
    SERVICES,
)
from .simulation import Simulation
from .timeline import LTC_END, MH_END, NEVER, qkey, quarter_key, to_day, to_weekday

Records = dict[str, np.ndarray]  # column name -> values, one entry per record


def simulate_outcome_tool(sim: Simulation) -> tuple[Records, Records, Records]:
    """Referrals, onward referrals and assessments on the whole timeline (final values)."""
    rng = streams.rng(sim.seed, "outcome")
    r_person, r_date, r_prog, r_index = _referral_rows(rng, sim)
    referrals, onward_lag = _pathways(rng, sim, r_person, r_date, r_prog, r_index)
    onward = _onward_referrals(rng, referrals, onward_lag)
    assessments = _assessments(rng, referrals)
    return referrals, onward, assessments


# --------------------------------------------------------------------------------------
# Referrals
# --------------------------------------------------------------------------------------


def _referral_rows(rng, sim: Simulation):
    """Index referrals plus re-referrals (~3% of persons, 3-12 months later, within the programme),
    ordered by date then token so REFERRAL_IDs rise with the date."""
    pop, tokens_all = sim.pop, sim.tokens
    (lp, ld), (mp, md) = sim.ltc, sim.mh
    persons = np.concatenate([lp, mp])
    rdate = np.concatenate([ld, md])
    prog = np.concatenate([np.zeros(len(lp), np.int8), np.ones(len(mp), np.int8)])
    prog_end = np.where(prog == 0, LTC_END, MH_END)
    rr_day = rdate + rng.integers(90, 366, len(persons))
    feasible = (rr_day <= prog_end) & (rr_day <= pop.reg_to[persons]) & (rr_day < pop.death[persons])
    cand = np.nonzero(feasible)[0]
    n_rr = min(len(cand), int(round(0.03 * len(persons))))
    rr = np.sort(rng.choice(cand, n_rr, replace=False))
    r_person = np.concatenate([persons, persons[rr]])
    r_date = np.concatenate([rdate, to_weekday(rr_day[rr], rr_day[rr] - 3, rr_day[rr] + 3)])
    r_prog = np.concatenate([prog, prog[rr]])
    r_index = np.concatenate([np.ones(len(persons), bool), np.zeros(n_rr, bool)])
    o = np.lexsort((tokens_all[r_person], r_date))
    return r_person[o], r_date[o], r_prog[o], r_index[o]


def _pathways(rng, sim: Simulation, r_person, r_date, r_prog, r_index) -> tuple[Records, np.ndarray]:
    """Each referral's path (engaged / took up / declined / closed, and the MH discharge pathway) with
    its dates, adviser and source; also returns the engage-to-onward-referral lag."""
    pop = sim.pop
    n = len(r_person)
    is_mh = r_prog == 1
    engaged = rng.random(n) < np.where(is_mh, 0.885, 0.86)
    took = engaged & (rng.random(n) < np.where(is_mh, 0.97, 0.88))
    engage_d = r_date + rng.integers(3, 29, n)
    onward_lag = rng.integers(0, 15, n)
    takeup_d = engage_d + onward_lag + rng.integers(7, 31, n)
    closed_d = np.where(took, takeup_d + rng.integers(90, 361, n), NEVER)
    declined_d = np.where(~engaged, r_date + rng.integers(5, 41, n), NEVER)
    # MH discharge pathway (six-month pathway: the case closes after the discharge review)
    review_d = np.where(is_mh & took, r_date + 182 + rng.integers(-14, 15, n), NEVER)
    closed_d = np.where(is_mh & took, review_d + rng.integers(14, 121, n), closed_d)
    discharged = is_mh & took & (rng.random(n) < 0.55)
    discharge_d = np.where(discharged, review_d + rng.integers(0, 43, n), NEVER)
    reaccess = discharged & (rng.random(n) < 0.12)
    reaccess_d = np.where(reaccess, discharge_d + rng.integers(30, 301, n), NEVER)
    adviser = np.where(is_mh, 5 + rng.integers(0, 2, n), pop.practice_adviser[pop.practice[r_person]])
    source = np.where(
        is_mh,
        streams.pick(rng, MH_SOURCES, MH_SOURCES_P, n) + len(LTC_SOURCES),
        streams.pick(rng, LTC_SOURCES, LTC_SOURCES_P, n),
    )
    referrals = dict(
        person=r_person, date=r_date, prog=r_prog, index=r_index, engaged=engaged, took=took, engage=engage_d,
        takeup=takeup_d, closed=closed_d, declined=declined_d, review=review_d, discharge=discharge_d,
        reaccess=reaccess_d, adviser=adviser, source=source, id=np.arange(1, n + 1),
    )
    return referrals, onward_lag


# --------------------------------------------------------------------------------------
# Onward referrals
# --------------------------------------------------------------------------------------


def _onward_referrals(rng, refs: Records, onward_lag: np.ndarray) -> Records:
    """Onward referrals to funded, non-funded and statutory services, at most one per (referral, service)."""
    o_ref, o_class = _onward_counts(rng, refs)
    r_date = refs["date"]
    end = np.where(refs["prog"] == 1, MH_END, LTC_END)
    m = len(o_ref)
    o_date = refs["engage"][o_ref] + onward_lag[o_ref] + rng.integers(0, 8, m)
    o_date = np.where(o_class == 0, np.maximum(np.minimum(o_date, end[o_ref]), r_date[o_ref]), o_date)
    svc = _choose_services(rng, refs["prog"][o_ref], o_class, o_date)
    # one onward referral per (referral, service)
    _, first_of = np.unique(o_ref * len(SERVICES) + svc, return_index=True)
    first_of = np.sort(first_of)
    o_ref, o_date, svc = o_ref[first_of], o_date[first_of], svc[first_of]
    m = len(o_ref)
    oo = np.lexsort((svc, r_date[o_ref], o_ref, o_date))
    return dict(ref=o_ref[oo], date=o_date[oo], svc=svc[oo], id=np.arange(1, m + 1))


def _onward_counts(rng, refs: Records) -> tuple[np.ndarray, np.ndarray]:
    """How many onward referrals of each class (0 funded, 1 non-funded, 2 statutory) each referral makes:
    funded for ~70% of LTC persons (1,118 of 1,607) and all MH take-ups; returns (referral, class) rows."""
    is_mh, r_index, took, engaged = refs["prog"] == 1, refs["index"], refs["took"], refs["engaged"]
    n = len(is_mh)
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
    return np.concatenate(rows_r), np.concatenate(rows_f)


def _choose_services(rng, o_prog: np.ndarray, o_class: np.ndarray, o_date: np.ndarray) -> np.ndarray:
    """A service of the right class and programme for each onward referral, by weight; funded ones must
    belong to a provider whose grant is active in that quarter (so provider returns can show them)."""
    m = len(o_prog)
    svc = np.zeros(m, dtype=np.int64)
    q = quarter_key(o_date)
    funding_of = {"Funded": 0, "Non-funded": 1, "Statutory": 2}
    prov_start = {c: qkey(s) for c, _, progs, s, _ in PROVIDERS}
    for qq in np.unique(q):
        for pg, pname in ((0, "LTC"), (1, "MH")):
            for fc in (0, 1, 2):
                rows = np.nonzero((q == qq) & (o_prog == pg) & (o_class == fc))[0]
                if len(rows) == 0:
                    continue
                cands = [
                    i for i, s in enumerate(SERVICES)
                    if funding_of[s[4]] == fc and pname in s[5]
                    and (fc != 0 or (pg == 1 or prov_start[s[2]] <= qq))
                ]
                w = np.array([SERVICES[i][6] for i in cands])
                svc[rows] = np.array(cands)[rng.choice(len(cands), len(rows), p=w / w.sum())]
    return svc


# --------------------------------------------------------------------------------------
# Assessments
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


def _assessments(rng, refs: Records) -> Records:
    """Baseline and review assessments: ~51% of referrals have a Baseline and ~35% of those an in-range
    Review; a few have a second Baseline, an early Review or a late one (which the pipeline must skip)."""
    engaged, engage_d, is_mh = refs["engaged"], refs["engage"], refs["prog"] == 1
    n = len(engaged)
    has_base = engaged & (rng.random(n) < 0.51 / np.mean(engaged))
    b_day = engage_d + rng.integers(0, 8, n)
    rev_in = has_base & (rng.random(n) < 0.35)
    rev_early = has_base & (rng.random(n) < 0.10)
    rev_late = has_base & ~rev_in & (rng.random(n) < 0.07)
    base2 = has_base & (rng.random(n) < 0.02)
    base_scores, follow = _scores(rng, n, is_mh)

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

    # argument order matters: each call draws its days before its scores
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
    return dict(ref=a_ref[oa], date=a_day[oa], type=a_type[oa], scores=a_scores[oa], id=np.arange(1, len(oa) + 1))


def _scores(rng, n: int, is_mh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline scores matching the published baseline distribution, and follow-up scores whose
    progress rates match the published ones (higher for low scorers and for MH)."""
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
    return base_scores, follow


# --------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------


def write_exports(out: pathlib.Path, sim: Simulation, refs: Records, onward: Records, assess: Records,
                  summary: dict[str, int]) -> dict[str, dict]:
    """Write outcome_tool/<delivery>/{referrals, onward_referrals, assessments}.csv; return the planted
    late referrals per referrals file (for truth.json)."""
    ref_ids = output.ids("R", refs["id"], 6)
    late_info = {}
    rng_late = streams.rng(sim.seed, "late")
    for key, cutoff in DELIVERIES.items():
        c = to_day(cutoff)
        folder = out / "outcome_tool" / key
        late = _late_referrals(rng_late, refs, c)
        late_info[f"outcome_tool/{key}/referrals.csv"] = {
            "count": len(late), "referral_ids": [f"R{i:06d}" for i in refs["id"][late]]}
        referrals = _referrals_extract(sim, refs, ref_ids, late, c)
        summary[f"outcome_tool/{key}/referrals.csv"] = output.write_csv(referrals, folder / "referrals.csv")
        onward_df = _onward_extract(onward, ref_ids, c)
        summary[f"outcome_tool/{key}/onward_referrals.csv"] = output.write_csv(onward_df, folder / "onward_referrals.csv")
        assessments = _assessments_extract(assess, ref_ids, c)
        summary[f"outcome_tool/{key}/assessments.csv"] = output.write_csv(assessments, folder / "assessments.csv")
    return late_info


def _late_referrals(rng_late, refs: Records, c: int) -> np.ndarray:
    """A few referrals dated within 14 days after cut-off c that the export nevertheless contains."""
    late_cand = np.nonzero((refs["date"] > c) & (refs["date"] <= c + 14))[0]
    return np.sort(rng_late.choice(late_cand, min(N_LATE_REFERRALS, len(late_cand)), replace=False))


def _referrals_extract(sim: Simulation, refs: Records, ref_ids: pl.Series, late: np.ndarray, c: int) -> pl.DataFrame:
    """Referrals up to cut-off c (plus the late ones) with STATUS and dates as known at c; the late
    referrals are still "Referred"."""
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
    closed = np.where(r["declined"] <= c, r["declined"], np.where(r["closed"] <= c, r["closed"], NEVER))
    mhr = r["prog"] == 1
    return pl.DataFrame(
        {
            "REFERRAL_ID": ref_ids.gather(idx),
            "TOKEN_PERSON_ID": pl.Series(values=sim.tokens).gather(r["person"]),
            "PROGRAMME": output.codes(("LTC", "MH"), r["prog"]),
            "REFERRAL_DATE": output.dates(r["date"]),
            "REFERRER_PRACTICE": output.ids("C87", sim.pop.practice[r["person"]] + 1, 3),
            "REFERRAL_SOURCE": output.codes(LTC_SOURCES + MH_SOURCES, r["source"]),
            "ADVISER_ID": output.ids("ADV", r["adviser"] + 1, 2),
            "STATUS": output.codes(("Referred", "Engaged", "Took up", "Declined", "Closed"), status),
            "CLOSED_DATE": output.dates(closed % NEVER, closed <= c),
            "MH_DISCHARGE_REVIEW_DATE": output.dates(r["review"] % NEVER, mhr & (r["review"] <= c)),
            "MH_DISCHARGE_DATE": output.dates(r["discharge"] % NEVER, mhr & (r["discharge"] <= c)),
            "MH_REACCESS_DATE": output.dates(r["reaccess"] % NEVER, mhr & (r["reaccess"] <= c)),
        }
    )


def _onward_extract(onward: Records, ref_ids: pl.Series, c: int) -> pl.DataFrame:
    """Onward referrals made by cut-off c, with the service's name, provider, type and funding."""
    oi = np.nonzero(onward["date"] <= c)[0]
    svc = onward["svc"][oi]
    return pl.DataFrame(
        {
            "ONWARD_ID": output.ids("N", onward["id"][oi], 6),
            "REFERRAL_ID": ref_ids.gather(onward["ref"][oi]),
            "ONWARD_DATE": output.dates(onward["date"][oi]),
            "SERVICE_CODE": output.codes([s[0] for s in SERVICES], svc),
            "SERVICE_NAME": output.codes([s[1] for s in SERVICES], svc),
            "PROVIDER_CODE": output.codes([s[2] for s in SERVICES], svc),
            "SERVICE_TYPE": output.codes([s[3] for s in SERVICES], svc),
            "FUNDING": output.codes([s[4] for s in SERVICES], svc),
        }
    )


def _assessments_extract(assess: Records, ref_ids: pl.Series, c: int) -> pl.DataFrame:
    """Assessments made by cut-off c, one column per wellbeing measure (blank scores as nulls)."""
    ai = np.nonzero(assess["date"] <= c)[0]
    cols = {
        "ASSESSMENT_ID": output.ids("S", assess["id"][ai], 7),
        "REFERRAL_ID": ref_ids.gather(assess["ref"][ai]),
        "ASSESSMENT_DATE": output.dates(assess["date"][ai]),
        "ASSESSMENT_TYPE": output.codes(("Baseline", "Review"), assess["type"][ai]),
    }
    for j, (mname, *_rest) in enumerate(WELLBEING):
        cols[mname] = pl.Series(values=assess["scores"][ai, j]).fill_nan(None).cast(pl.Int64)
    return pl.DataFrame(cols)
