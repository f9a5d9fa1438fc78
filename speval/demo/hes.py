"""HES: admitted patient care (APC), A&E and outpatient (OP) tables, cut into cumulative deliveries.

Each table is built once on the full timeline with a final and a provisional value for the fields a
later delivery revises, plus "ghost" records that appear in one delivery only and are withdrawn from
the next.  ``write_deliveries`` then cuts the tables at each delivery's cut-off, shows provisional
values in a record's first delivery, plants exact duplicates in 2013Q4 and records every revision and
withdrawal for the truth.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from . import output, streams
from .constants import (
    AE_DISP,
    AE_DISP_P,
    COVERAGE_START,
    DELIVERIES,
    ELECTIVE_DIAG,
    EMERGENCY_ADMIMETH,
    EMERGENCY_ADMIMETH_P,
    EMERGENCY_DIAG,
    EXTRACT_LAG_DAYS,
    N_DUP_AE_2013Q4,
    N_DUP_APC_2013Q4,
    PROVISIONAL_DIAG,
    REGULAR_DIAG,
    TRETSPEF,
    TRETSPEF_P,
    TRUSTS,
)
from .population import Population
from .simulation import Events, Simulation
from .timeline import COVER_DAY, LAST_DAY, NEVER, first_delivery, months_of, to_day


@dataclass
class DeliveryLog:
    """What the deliveries did on purpose, for truth.json."""

    defects: list[dict]  # planted exact duplicates
    revisions: dict[str, dict]  # per file: fields changed since the previous delivery
    withdrawals: dict[str, dict]  # per file: records of the previous delivery no longer present


# --------------------------------------------------------------------------------------
# Revisions and withdrawals (shared by the three tables)
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
    """Rows to copy as ghosts, per first delivery (0..2), so every delivery but the last withdraws some."""
    out = []
    for d in range(len(DELIVERIES) - 1):
        cand = np.nonzero(eligible & (first_d == d))[0]
        if len(cand) == 0:
            continue
        k = min(len(cand), max(minimum, int(round(share * len(cand)))))
        out.append(np.sort(rng.choice(cand, k, replace=False)))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _ghosts(rng, df: pl.DataFrame, first: np.ndarray, elig: np.ndarray, date_col: str, final_col: str,
            prov_col: str) -> pl.DataFrame:
    """Copies of some records dated 1-3 days earlier, shown with final values, flagged as ghosts."""
    src = _ghost_sources(rng, first, elig, 0.002, 2)
    return df[src].with_columns(
        pl.col(date_col) - pl.Series(rng.integers(1, 4, len(src))),
        pl.col(final_col).alias(prov_col),
        ghost=pl.lit(True),
    )


# --------------------------------------------------------------------------------------
# APC: spells and episodes
# --------------------------------------------------------------------------------------


@dataclass
class _Regular:
    """Regular day/night attenders' admissions (one row per admission)."""

    person: np.ndarray
    day: np.ndarray
    night: np.ndarray  # bool: regular night attender (CLASSPAT 4, one night)
    diag: np.ndarray  # index into REGULAR_DIAG


@dataclass
class _Spells:
    """One row per hospital spell: emergency (kind 0), elective (1), then regular attendances (2)."""

    person: np.ndarray
    adm: np.ndarray
    end: np.ndarray
    kind: np.ndarray
    n_epi: np.ndarray
    procode: np.ndarray
    procode_prov: np.ndarray
    admimeth: np.ndarray
    classpat: np.ndarray
    dismeth: np.ndarray
    sp_first: np.ndarray


def apc_table(seed: int, pop: Population, em: Events, el: Events, linked: np.ndarray) -> pl.DataFrame:
    """All APC episodes on the full timeline (one random stream, so the step order is fixed)."""
    rng = streams.rng(seed, "apc")
    reg = _regular_attenders(rng, pop, linked)
    spells = _spells(rng, pop, em, el, reg)
    df, ep = _episodes(rng, spells, reg)
    # ---- withdrawn ghost records: single-episode finished spells shifted 1-3 days earlier
    ns = len(spells.person)
    fin_first = first_delivery(ep["epiend"])
    elig = (spells.n_epi[ep["sp"]] == 1) & (fin_first == ep["ep_first"]) & (ep["kind"] < 2)
    elig &= ep["epistart"] - 3 >= COVER_DAY
    elig &= first_delivery(ep["epistart"] - 3) == ep["ep_first"]
    src = _ghost_sources(rng, ep["ep_first"], elig, 0.002, 2)
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
    return df.with_columns(EPIKEY=output.ids("E", np.arange(1, df.height + 1), 12))


def _regular_attenders(rng, pop: Population, linked: np.ndarray) -> _Regular:
    """Regular day/night attenders (CLASSPAT 3/4): APC rows that the pipeline must not count as admissions."""
    cand = np.nonzero(linked)[0]
    n_reg = max(2, int(round(0.006 * len(cand))))
    reg_p = np.sort(rng.choice(cand, n_reg, replace=False))
    reg_start = COVER_DAY + rng.integers(0, LAST_DAY - COVER_DAY - 60, n_reg)
    reg_n = rng.integers(6, 40, n_reg)
    reg_gap = rng.choice([7, 14], n_reg)
    reg_night = rng.random(n_reg) < 0.15
    reg_diag = rng.integers(0, len(REGULAR_DIAG), n_reg)
    ri = np.repeat(np.arange(n_reg), reg_n)
    seq = np.arange(len(ri)) - np.repeat(np.cumsum(reg_n) - reg_n, reg_n)
    pr = reg_p[ri]
    dr = reg_start[ri] + seq * reg_gap[ri]
    ok = (dr <= pop.death[pr]) & (dr + reg_night[ri] <= LAST_DAY)
    ri, pr, dr = ri[ok], pr[ok], dr[ok]
    return _Regular(pr, dr, reg_night[ri], reg_diag[ri])


def _spells(rng, pop: Population, em: Events, el: Events, reg: _Regular) -> _Spells:
    """Spell attributes: trust, admission method, patient class, length of stay (cut at death), number of
    episodes, discharge method, and a provisional PROCODE3 for the spells a later delivery revises."""
    (pe, de), (pel, dl) = em, el
    ne, nl, nr = len(pe), len(pel), len(reg.person)
    person = np.concatenate([pe, pel, reg.person])
    adm = np.concatenate([de, dl, reg.day])
    kind = np.concatenate([np.zeros(ne, np.int8), np.ones(nl, np.int8), np.full(nr, 2, np.int8)])
    ns = len(person)
    procode = np.where(kind == 2, 0, streams.pick(rng, TRUSTS, (0.78, 0.10, 0.07, 0.05), ns))
    admimeth = np.empty(ns, dtype=object)
    admimeth[kind == 0] = np.array(EMERGENCY_ADMIMETH)[streams.pick(rng, EMERGENCY_ADMIMETH, EMERGENCY_ADMIMETH_P, ne)]
    admimeth[kind == 1] = np.array(("11", "12", "13"))[streams.pick(rng, "abc", (0.6, 0.25, 0.15), nl)]
    admimeth[kind == 2] = "13"
    classpat = np.full(ns, "1", dtype=object)
    daycase = rng.random(nl) < 0.65
    classpat[ne:ne + nl][daycase] = "2"
    classpat[kind == 2] = np.where(reg.night, "4", "3")
    los = np.zeros(ns, dtype=np.int64)
    los[:ne] = rng.negative_binomial(1.2, 1.2 / (1.2 + 5.5), ne)
    los[ne:ne + nl] = np.where(daycase, 0, 1 + rng.poisson(2.0, nl))
    los[ne + nl:] = reg.night.astype(np.int64)
    end = adm + los
    died = end >= pop.death[person]
    end = np.minimum(end, pop.death[person])
    los = end - adm
    n_epi = np.ones(ns, dtype=np.int64)
    n_epi[:ne] = streams.pick(rng, (1, 2, 3), (0.82, 0.14, 0.04), ne) + 1
    n_epi[ne:ne + nl] = np.where(~daycase & (rng.random(nl) < 0.05), 2, 1)
    n_epi = np.where(los == 0, 1, n_epi)
    dismeth = np.array(("1", "2", "9"))[streams.pick(rng, "abc", (0.96, 0.025, 0.015), ns)].astype(object)
    dismeth[died] = "4"
    # provisional PROCODE3 for revised spells
    sp_first = first_delivery(adm)
    rev_proc = _revision_mask(rng, sp_first, kind < 2, 0.003, 1)
    procode_prov = np.where(rev_proc, (procode + 1 + rng.integers(0, len(TRUSTS) - 1, ns)) % len(TRUSTS), procode)
    return _Spells(person, adm, end, kind, n_epi, procode, procode_prov, admimeth, classpat, dismeth, sp_first)


def _episodes(rng, s: _Spells, reg: _Regular) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Split spells into 1-3 consecutive episodes with a diagnosis each (provisional for the episodes a
    later delivery revises); returns the episode frame and the arrays the ghost step needs."""
    ns = len(s.person)
    los = s.end - s.adm
    cuts = np.sort(rng.random((ns, 2)), axis=1)
    c1 = s.adm + np.floor(cuts[:, 0] * (los + 1)).clip(max=los).astype(np.int64)
    c2 = s.adm + np.floor(cuts[:, 1] * (los + 1)).clip(max=los).astype(np.int64)
    n_epi = s.n_epi
    bounds = np.stack([s.adm, np.where(n_epi == 1, s.end, c1), np.where(n_epi == 3, c2, s.end), s.end], axis=1)
    sp = np.repeat(np.arange(ns), n_epi)
    order = np.arange(len(sp)) - np.repeat(np.cumsum(n_epi) - n_epi, n_epi) + 1
    epistart = bounds[sp, order - 1]
    epiend = bounds[sp, order]
    last = order == n_epi[sp]
    nep = len(sp)
    ek = s.kind[sp]
    diag = np.empty(nep, dtype=object)
    diag[ek == 0] = np.array(EMERGENCY_DIAG)[rng.integers(0, len(EMERGENCY_DIAG), (ek == 0).sum())]
    diag[ek == 1] = np.array(ELECTIVE_DIAG)[rng.integers(0, len(ELECTIVE_DIAG), (ek == 1).sum())]
    diag[ek == 2] = np.array(REGULAR_DIAG)[reg.diag]
    ep_first = first_delivery(epistart)
    rev_diag = _revision_mask(rng, ep_first, np.ones(nep, bool), 0.01, 2)
    diag_prov = diag.copy()
    diag_prov[rev_diag] = np.array(PROVISIONAL_DIAG)[rng.integers(0, len(PROVISIONAL_DIAG), rev_diag.sum())]

    df = pl.DataFrame(
        {
            "p": s.person[sp],
            "ADMIDATE_D": s.adm[sp],
            "EPISTART_D": epistart,
            "EPIEND_D": epiend,
            "EPIORDER": order,
            "last": last,
            "ADMIMETH": s.admimeth[sp].astype(str),
            "CLASSPAT": s.classpat[sp].astype(str),
            "DISMETH_F": s.dismeth[sp].astype(str),
            "DIAG_F": diag.astype(str),
            "DIAG_P": diag_prov.astype(str),
            "PROC_F": s.procode[sp],
            "PROC_P": s.procode_prov[sp],
            "sp_first": s.sp_first[sp],
            "ep_first": ep_first,
            "ghost": np.zeros(nep, bool),
            "spell": sp,
        }
    )
    return df, {"sp": sp, "epistart": epistart, "epiend": epiend, "ep_first": ep_first, "kind": ek}


# --------------------------------------------------------------------------------------
# A&E
# --------------------------------------------------------------------------------------


def ae_table(seed: int, pop: Population, ev: Events, index_day: np.ndarray) -> pl.DataFrame:
    """All A&E attendances on the full timeline (one random stream, so the step order is fixed)."""
    rng = streams.rng(seed, "ae")
    p, day = _same_day_repeats(rng, *ev, index_day)
    p, day, minute, procode, cat = _arrivals_and_follow_ups(rng, pop, p, day)
    minute = _unique_arrival_times(p, procode, day, minute)
    n = len(p)
    mode = np.where(rng.random(n) < 0.42, "1", "2")
    disp = streams.pick(rng, AE_DISP, AE_DISP_P, n)
    disp = np.where(cat == 2, np.where(rng.random(n) < 0.7, 2, 1), disp)  # follow-ups: 03 or 02
    first = first_delivery(day)
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
    elig = (cat != 2) & (day - 3 >= COVER_DAY) & (first_delivery(day - 3) == first)
    g = _ghosts(rng, df, first, elig, "ARRIVALDATE_D", "DISP_F", "DISP_P")
    df = pl.concat([df, g]).sort(["ARRIVALDATE_D", "p", "minute"], maintain_order=True)
    hh = (df["minute"] // 60).cast(pl.String).str.zfill(2)
    mm = (df["minute"] % 60).cast(pl.String).str.zfill(2)
    return df.with_columns(
        AEKEY=output.ids("A", np.arange(1, df.height + 1), 12),
        ARRIVALTIME=pl.select(hh + ":" + mm).to_series(),
    )


def _same_day_repeats(rng, p: np.ndarray, day: np.ndarray, index_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move ~12% of a person's next attendance in the same month onto the previous one's day (same-day
    repeat attendances), never across the index date so the planted effect is untouched."""
    n = len(p)
    o = np.lexsort((day, p))
    p, day = p[o], day[o]
    same_month = np.zeros(n, bool)
    same_month[1:] = (p[1:] == p[:-1]) & (months_of(day[1:]) == months_of(day[:-1]))
    same_side = np.zeros(n, bool)
    same_side[1:] = (day[1:] >= index_day[p[1:]]) == (day[:-1] >= index_day[p[:-1]])
    move = same_month & same_side & (rng.random(n) < 0.12)
    prev = np.concatenate([[0], day[:-1]])
    return p, np.where(move, prev, day)


def _arrivals_and_follow_ups(rng, pop: Population, p: np.ndarray, day: np.ndarray):
    """Arrival minute, trust and category of each attendance, plus planned follow-ups (category 2),
    which the pipeline must not count as attendances."""
    n = len(p)
    hour_p = np.array([1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1], dtype=float)
    minute = rng.choice(24, n, p=hour_p / hour_p.sum()) * 60 + rng.integers(0, 60, n)
    procode = streams.pick(rng, TRUSTS, (0.86, 0.07, 0.05, 0.02), n)
    cat = np.where(rng.random(n) < 0.93, 1, 3)
    fu = np.nonzero(rng.random(n) < 0.06)[0]
    fday = day[fu] + rng.integers(2, 11, len(fu))
    okf = (fday <= pop.death[p[fu]]) & (fday <= LAST_DAY)
    fu, fday = fu[okf], fday[okf]
    p = np.concatenate([p, p[fu]])
    day = np.concatenate([day, fday])
    minute = np.concatenate([minute, rng.integers(9 * 60, 16 * 60, len(fu))])
    procode = np.concatenate([procode, procode[fu]])
    cat = np.concatenate([cat, np.full(len(fu), 2)])
    return p, day, minute, procode, cat


def _unique_arrival_times(p, procode, day, minute) -> np.ndarray:
    """Nudge arrival times until (person, trust, date, time) is unique, so every attendance counts once."""
    n = len(p)
    for _ in range(50):
        key = ((p * 4 + procode) * 100000 + day) * 1440 + minute
        o = np.argsort(key, kind="stable")
        dup = np.zeros(n, bool)
        dup[o[1:]] = key[o[1:]] == key[o[:-1]]
        if not dup.any():
            break
        minute[dup] = (minute[dup] + 7) % 1440
    return minute


# --------------------------------------------------------------------------------------
# Outpatients
# --------------------------------------------------------------------------------------


def op_table(seed: int, pop: Population, ev: Events) -> pl.DataFrame:
    """All outpatient appointments on the full timeline, attended or not."""
    rng = streams.rng(seed, "op")
    p, day, attended = _with_missed_appointments(rng, pop, *ev)
    n = len(p)
    procode = streams.pick(rng, TRUSTS, (0.74, 0.16, 0.05, 0.05), n)
    firstatt = np.array(("1", "2", "3", "4"))[streams.pick(rng, "abcd", (0.28, 0.64, 0.02, 0.06), n)]
    spec = streams.pick(rng, TRETSPEF, TRETSPEF_P, n)
    first = first_delivery(day)
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
    elig = (day - 3 >= COVER_DAY) & (first_delivery(day - 3) == first)
    g = _ghosts(rng, df, first, elig, "APPTDATE_D", "SPEC_F", "SPEC_P")
    df = pl.concat([df, g]).sort(["APPTDATE_D", "p"], maintain_order=True)
    return df.with_columns(ATTENDKEY=output.ids("O", np.arange(1, df.height + 1), 12))


def _with_missed_appointments(rng, pop: Population, p: np.ndarray, day: np.ndarray):
    """ATTENDED for the simulated appointments (5/6, which count) plus extra appointments that were
    cancelled, not attended or attended late and not seen (7/2/4/3, which must not count)."""
    n = len(p)
    attended = np.where(rng.random(n) < 0.9, "5", "6")
    ex = np.nonzero(rng.random(n) < 0.33)[0]
    xday = day[ex] + rng.integers(-45, 46, len(ex))
    okx = (xday >= COVER_DAY) & (xday <= LAST_DAY) & (xday <= pop.death[p[ex]])
    ex, xday = ex[okx], xday[okx]
    xatt = np.array(("7", "2", "4", "3"))[streams.pick(rng, "abcd", (0.06, 0.24, 0.22, 0.48), len(ex))]
    p = np.concatenate([p, p[ex]])
    day = np.concatenate([day, xday])
    attended = np.concatenate([attended, xatt])
    return p, day, attended


# --------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------


def write_deliveries(out: pathlib.Path, sim: Simulation, summary: dict[str, int]) -> DeliveryLog:
    """Write hes/<delivery>/{manifest.json, persons.csv, apc.csv, ae.csv, op.csv} for every delivery."""
    pop, seed = sim.pop, sim.seed
    apc = apc_table(seed, pop, sim.events[0], sim.events[1], sim.linked)
    ae = ae_table(seed, pop, sim.events[2], sim.index_day)
    op = op_table(seed, pop, sim.events[3])
    tok = pl.Series(values=sim.tokens)
    log = DeliveryLog(defects=[], revisions={}, withdrawals={})
    prev_keys: dict[str, pl.DataFrame] = {}
    rng_dup = streams.rng(seed, "duplicates")
    lp = np.nonzero(sim.linked)[0]
    for d, (key, cutoff) in enumerate(DELIVERIES.items()):
        c = to_day(cutoff)
        folder = out / "hes" / key
        _write_manifest(folder, cutoff)
        persons = _persons_extract(pop, lp, tok, c)
        summary[f"hes/{key}/persons.csv"] = output.write_csv(persons, folder / "persons.csv", float_precision=1)
        a = _apc_extract(apc, d, c, tok)
        e = _ae_extract(ae, d, c, tok)
        o = _op_extract(op, d, c, tok)
        tables = {"apc": (a, "EPIKEY", ("PROCODE3", "DIAG_4_01")), "ae": (e, "AEKEY", ("AEATTENDDISP",)),
                  "op": (o, "ATTENDKEY", ("TRETSPEF",))}
        if d > 0:
            _compare_with_previous(log, key, list(DELIVERIES)[d - 1], tables, prev_keys)
        for name, (df, kcol, fields) in tables.items():
            prev_keys[name] = df.select(kcol, *fields)
        if key == "2013Q4":
            a, e = _plant_duplicates(rng_dup, log, key, a, e)
        a = a.sort("EPIKEY", maintain_order=True)
        e = e.sort("AEKEY", maintain_order=True)
        o = o.sort("ATTENDKEY", maintain_order=True)
        summary[f"hes/{key}/apc.csv"] = output.write_csv(a, folder / "apc.csv")
        summary[f"hes/{key}/ae.csv"] = output.write_csv(e, folder / "ae.csv")
        summary[f"hes/{key}/op.csv"] = output.write_csv(o, folder / "op.csv")
    return log


def _write_manifest(folder: pathlib.Path, cutoff: dt.date) -> None:
    """The delivery's coverage, cut-off and extract date, which the pipeline reads to date the delivery."""
    output.write_json(
        {
            "coverage_start": COVERAGE_START.isoformat(),
            "cutoff": cutoff.isoformat(),
            "extracted_on": (cutoff + dt.timedelta(days=EXTRACT_LAG_DAYS)).isoformat(),
        },
        folder / "manifest.json",
    )


def _persons_extract(pop: Population, lp: np.ndarray, tok: pl.Series, c: int) -> pl.DataFrame:
    """Linked persons as known at cut-off c: later deregistrations and deaths are not yet visible."""
    return pl.DataFrame(
        {
            "TOKEN_PERSON_ID": tok.gather(lp),
            "YEAR_OF_BIRTH": pop.yob[lp],
            "SEX": output.codes(("1", "2", "9"), pop.sex[lp]),
            "LSOA11": output.ids("E01007", pop.lsoa[lp], 3),
            "IMD_DECILE": pop.imd[lp],
            "GPPRAC": output.ids("C87", pop.practice[lp] + 1, 3),
            "LTC_COUNT": pop.ltc[lp],
            "RISK_SCORE": pop.risk[lp],
            "REGISTERED_FROM": output.dates(pop.reg_from[lp]),
            "REGISTERED_TO": output.dates(pop.reg_to[lp] % NEVER, pop.reg_to[lp] <= c),
            "DATE_OF_DEATH": output.dates(pop.death[lp] % NEVER, pop.death[lp] <= c),
        }
    ).sort("TOKEN_PERSON_ID")


def _apc_extract(apc: pl.DataFrame, d: int, c: int, tok: pl.Series) -> pl.DataFrame:
    """Episodes started by cut-off c as delivery d shows them: unfinished episodes have no end and
    EPISTAT 1, first-delivery records carry provisional values, and only this delivery's ghosts appear."""
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
    return a.with_columns(
        TOKEN_PERSON_ID=tok.gather(a["p"].to_numpy()),
        PROCODE3=output.codes(TRUSTS, a["proc"].to_numpy()),
    ).select(
        "TOKEN_PERSON_ID", "EPIKEY", "PROCODE3", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE", "EPIORDER",
        "EPISTAT", "ADMIMETH", "CLASSPAT", "DISMETH", "DIAG_4_01",
    )


def _ae_extract(ae: pl.DataFrame, d: int, c: int, tok: pl.Series) -> pl.DataFrame:
    """Attendances by cut-off c as delivery d shows them (provisional disposal in their first delivery)."""
    e = ae.filter((pl.col("ARRIVALDATE_D") <= c) & (~pl.col("ghost") | (pl.col("first") == d)))
    return pl.DataFrame(
        {
            "TOKEN_PERSON_ID": tok.gather(e["p"].to_numpy()),
            "AEKEY": e["AEKEY"],
            "PROCODE3": output.codes(TRUSTS, e["PROC"].to_numpy()),
            "ARRIVALDATE": output.dates(e["ARRIVALDATE_D"].to_numpy()),
            "ARRIVALTIME": e["ARRIVALTIME"],
            "AEATTENDCAT": e["AEATTENDCAT"],
            "AEARRIVALMODE": e["AEARRIVALMODE"],
            "AEATTENDDISP": output.codes(
                AE_DISP, np.where(e["first"].to_numpy() == d, e["DISP_P"].to_numpy(), e["DISP_F"].to_numpy())),
        }
    )


def _op_extract(op: pl.DataFrame, d: int, c: int, tok: pl.Series) -> pl.DataFrame:
    """Appointments by cut-off c as delivery d shows them (provisional specialty in their first delivery)."""
    o = op.filter((pl.col("APPTDATE_D") <= c) & (~pl.col("ghost") | (pl.col("first") == d)))
    return pl.DataFrame(
        {
            "TOKEN_PERSON_ID": tok.gather(o["p"].to_numpy()),
            "ATTENDKEY": o["ATTENDKEY"],
            "PROCODE3": output.codes(TRUSTS, o["PROC"].to_numpy()),
            "APPTDATE": output.dates(o["APPTDATE_D"].to_numpy()),
            "ATTENDED": o["ATTENDED"],
            "FIRSTATT": o["FIRSTATT"],
            "TRETSPEF": output.codes(
                TRETSPEF, np.where(o["first"].to_numpy() == d, o["SPEC_P"].to_numpy(), o["SPEC_F"].to_numpy())),
        }
    )


def _compare_with_previous(log: DeliveryLog, key: str, pk: str, tables: dict, prev_keys: dict) -> None:
    """Count, per file, the previous delivery's records that changed a revisable field or disappeared
    (measured, not assumed, so the truth matches the files exactly)."""
    for name, (df, kcol, fields) in tables.items():
        prev = prev_keys[name]
        j = prev.join(df.select(kcol, *fields), on=kcol, how="left", suffix="_new")
        gone = int(j[f"{fields[0]}_new"].is_null().sum())
        changed = {
            f: int(j.filter(pl.col(f"{f}_new").is_not_null() & (pl.col(f) != pl.col(f"{f}_new"))).height)
            for f in fields
        }
        log.revisions.setdefault(f"hes/{key}/{name}.csv", {"compared_with": f"hes/{pk}/{name}.csv", **changed})
        log.withdrawals[f"hes/{key}/{name}.csv"] = {"compared_with": f"hes/{pk}/{name}.csv", "withdrawn_records": gone}


def _plant_duplicates(rng_dup, log: DeliveryLog, key: str, a: pl.DataFrame, e: pl.DataFrame):
    """Append exact copies of a few APC and A&E rows (the planted duplicate-row defect)."""
    ia = np.sort(rng_dup.choice(a.height, N_DUP_APC_2013Q4, replace=False))
    ie = np.sort(rng_dup.choice(e.height, N_DUP_AE_2013Q4, replace=False))
    a = pl.concat([a, a[ia]])
    e = pl.concat([e, e[ie]])
    log.defects.append({"kind": "exact_duplicate_rows", "file": f"hes/{key}/apc.csv", "count": N_DUP_APC_2013Q4,
                        "keys": sorted(a["EPIKEY"].gather(ia).to_list())})
    log.defects.append({"kind": "exact_duplicate_rows", "file": f"hes/{key}/ae.csv", "count": N_DUP_AE_2013Q4,
                        "keys": sorted(e["AEKEY"].gather(ie).to_list())})
    return a, e
