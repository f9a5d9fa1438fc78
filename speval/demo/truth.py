"""The planted truth: truth_patients.csv (per-person expected counts) and truth.json.

truth_patients.csv gives, for every linked referred person, the expected post-window event counts
with and without the effect (sums of the latent rates, not draws), so a test can compute the true
effect on whichever patients the pipeline matched.  truth.json records the rate ratios, the model,
the selection mechanism, every planted defect, revision and withdrawal, the calibration targets and
the naive before/after change the simulated timeline actually shows.
"""

from __future__ import annotations

import pathlib

import numpy as np
import polars as pl

from . import output
from .calibration import CALIBRATION_TARGETS, MEASURES, MODEL, N_PRACTICES, N_REFERRING, RATE_RATIOS, RR
from .constants import GENERATOR_NAME, GENERATOR_VERSION, PIPELINE_MEASURES, SERVICES, WINDOWS
from .health import rates
from .hes import DeliveryLog
from .outcome_tool import Records
from .simulation import Simulation
from .timeline import DAYS_IN_MONTH, MONTH_START, SIM_MONTHS, add_months, months_of, to_day


def write_truth(out: pathlib.Path, sim: Simulation, refs: Records, onward: Records, hes_log: DeliveryLog,
                provider_defects: list[dict], late_info: dict, summary: dict[str, int]) -> None:
    """Write truth_patients.csv and truth.json under ``out``."""
    tp = _referred_linked(sim)
    cols, implied = _truth_patients(sim, tp)
    summary["truth_patients.csv"] = output.write_csv(pl.DataFrame(cols), out / "truth_patients.csv", float_precision=6)
    calib = _naive_calibration(sim, tp)
    truth = {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "seed": sim.seed,
        "scale": sim.scale,
        "rate_ratios": _rate_ratios(implied),
        "effect": "rate ratios multiply the person's latent rates from the index date (earliest referral) onwards, "
                  "no lag, for both programmes; truth_patients.csv gives per-person expected post-window counts",
        "health_model": _health_model(),
        "selection": _selection(),
        "population": _population_counts(sim, tp, refs, onward),
        "planted_defects": hes_log.defects + provider_defects + [_unlinked_defect(sim)],
        "late_referrals": {**late_info, "note": "referrals dated within 14 days after the export's cut-off"},
        "delivery_revisions": hes_log.revisions,
        "delivery_withdrawals": hes_log.withdrawals,
        "calibration_targets": CALIBRATION_TARGETS,
        "calibration_simulated_naive": {
            "note": "simple index-date before/after on the full simulated timeline (linked LTC referred persons, "
                    "no cohort attrition rules, no delivery effects)",
            **calib,
        },
    }
    if sim.spike is not None:  # only when planted, so the default truth.json is unchanged
        truth["pre_referral_spike"] = _spike(sim.spike)
    output.write_json(truth, out / "truth.json")


def _referred_linked(sim: Simulation) -> np.ndarray:
    """Linked referred persons, in TOKEN_PERSON_ID order (the rows of truth_patients.csv)."""
    tp = np.nonzero((sim.programme >= 0) & sim.linked)[0]
    return tp[np.argsort(sim.tokens[tp], kind="stable")]


# --------------------------------------------------------------------------------------
# truth_patients.csv
# --------------------------------------------------------------------------------------


def _window_expectations(pop, u, persons, index_day, W) -> np.ndarray:
    """Sum of latent rates over [R, R + W months), shape (len(persons), 4), no effect applied."""
    end = add_months(index_day, W)
    m0 = months_of(index_day)
    out = np.zeros((len(persons), len(MEASURES)))
    rate = [rates(pop, u, k, persons) for k in range(len(MEASURES))]
    death = pop.death[persons]
    rows = np.arange(len(persons))
    for off in range(W + 1):
        t = m0 + off
        ok = t < SIM_MONTHS
        tt = np.minimum(t, SIM_MONTHS - 1)
        lo = np.maximum(index_day, MONTH_START[tt])
        hi = np.minimum(np.minimum(end, MONTH_START[tt + 1]), death + 1)
        frac = np.where(ok, np.clip(hi - lo, 0, None) / DAYS_IN_MONTH[tt], 0.0)
        for k in range(len(MEASURES)):
            out[:, k] += rate[k][rows, tt] * frac
    return out


def _truth_patients(sim: Simulation, tp: np.ndarray) -> tuple[dict[str, pl.Series], dict[str, float]]:
    """Per-person expected (with effect) and counterfactual post-window counts for each pipeline measure,
    and the implied inpatient rate ratio over linked LTC persons (inpatient mixes two planted ratios)."""
    cols = {
        "TOKEN_PERSON_ID": pl.Series(values=sim.tokens[tp]),
        "PROGRAMME": output.codes(("LTC", "MH"), sim.programme[tp]),
        "INDEX_DATE": output.dates(sim.index_day[tp]),
    }
    implied = {}
    for W in WINDOWS:
        cf = _window_expectations(sim.pop, sim.u, tp, sim.index_day[tp], W)
        ex = cf * RR[None, :]
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
        ltc_rows = sim.programme[tp] == 0
        implied[f"{W}m"] = float(np.round(per["inpatient_admissions"][0][ltc_rows].sum()
                                          / per["inpatient_admissions"][1][ltc_rows].sum(), 4))
    return cols, implied


# --------------------------------------------------------------------------------------
# Naive before/after on the simulated timeline
# --------------------------------------------------------------------------------------


def _naive(keys: np.ndarray, persons: np.ndarray, index_day: np.ndarray, W: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-person event counts before/after the index in W-month windows (keys = person*2^20 + day)."""
    base = persons.astype(np.int64) << 20
    lo, mid, hi = add_months(index_day, -W), index_day, add_months(index_day, W)
    before = np.searchsorted(keys, base + mid) - np.searchsorted(keys, base + lo)
    after = np.searchsorted(keys, base + hi) - np.searchsorted(keys, base + mid)
    return before, after


def _naive_calibration(sim: Simulation, tp: np.ndarray) -> dict:
    """Mean counts before/after and % change for linked LTC referred persons (all, and two early cohorts),
    to compare with the published naive figures in CALIBRATION_TARGETS."""
    index_day = sim.index_day
    keys = []
    for k in range(len(MEASURES)):
        p, d = sim.events[k]
        keys.append(np.sort((p.astype(np.int64) << 20) + d))
    calib = {}
    ltc_p = tp[sim.programme[tp] == 0]
    groups = {
        "all_linked_ltc_referred": np.ones(len(ltc_p), bool),
        "referred_sep_dec_2012": index_day[ltc_p] <= to_day("2013-01-01"),
        "referred_sep_2012_jun_2013": index_day[ltc_p] <= to_day("2013-07-01"),
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
            res[f"{W}m"] = {m: _before_after(b, a) for m, (b, a) in per.items()}
            res[f"{W}m"]["n_patients"] = int(gmask.sum())
        calib[gname] = res
    return calib


def _before_after(b: np.ndarray, a: np.ndarray) -> dict:
    """Mean counts before and after, and the % change (None where undefined)."""
    return {
        "mean_before": round(float(b.mean()), 3) if len(b) else None,
        "mean_after": round(float(a.mean()), 3) if len(a) else None,
        "pct_change": round(100.0 * (a.mean() - b.mean()) / b.mean(), 1) if len(b) and b.mean() > 0 else None,
    }


# --------------------------------------------------------------------------------------
# truth.json sections
# --------------------------------------------------------------------------------------


def _rate_ratios(implied: dict[str, float]) -> dict:
    """The planted ratios, plus the implied inpatient ratio (inpatient = emergency + elective)."""
    return {
        **{k: v for k, v in RATE_RATIOS.items()},
        "inpatient_admissions": implied["12m"],
        "inpatient_admissions_note": (
            "inpatient = emergency + elective (ordinary and day case); its ratio is implied, "
            "sum(expected)/sum(counterfactual) over linked LTC referred persons' 12-month post windows "
            f"(6-month: {implied['6m']})"
        ),
    }


def _health_model() -> dict:
    """The latent-rate model's parameters (from MODEL), so the truth documents what generated the data."""
    return {
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
    }


def _selection() -> dict:
    """How referrals were selected: the mechanism behind the naive comparison's bias."""
    return {
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
    }


def _spike(spike: dict) -> dict:
    """The optional referral after an acute episode: a share of each month's referrals selected on a recent episode."""
    return {
        "description": (
            "Referral after an acute episode. In every LTC and MH referral month, a share of the month's referral "
            "slots (rounded; drawn from the 'spike-LTC' / 'spike-MH' streams) was filled with eligible persons "
            "(same eligibility as the usual selection, not yet referred) whose earliest emergency admission or A&E "
            "attendance in the window (as simulated, before the effect) leaves a weekday of that month within 1..days days "
            "after it, drawn with the usual selection weights; their index (first referral) date is a weekday "
            "drawn uniformly from those days (the next weekday if they are only a weekend). The remaining slots "
            "were filled by the usual selection among the persons left, so the monthly volumes and the number "
            "of referred persons are unchanged. No events were added; the planted effect, referrals.csv, HES and "
            "truth_patients.csv all use the final index date. referred_persons_after_episode counts the persons "
            "selected this way (fewer than share x slots only if a month ran out of such persons)."
        ),
        **spike,
    }


def _population_counts(sim: Simulation, tp: np.ndarray, refs: Records, onward: Records) -> dict:
    """Sizes of the simulated population and referral counts."""
    linked, programme = sim.linked, sim.programme
    return {
        "persons_in_persons_csv": int(linked.sum()),
        "referred_ltc_persons": int((programme == 0).sum()),
        "referred_mh_persons": int((programme == 1).sum()),
        "referred_linked_persons": int(len(tp)),
        "never_referred_pool": int(linked.sum() - len(tp)),
        "referrals": int(len(refs["id"])),
        "re_referrals": int((~refs["index"]).sum()),
        "practices": N_PRACTICES,
        "referring_practices": N_REFERRING,
        "ltc_persons_with_funded_onward_referral": _ltc_persons_with_funded_onward(refs, onward),
    }


def _ltc_persons_with_funded_onward(refs: Records, onward: Records) -> int:
    """Distinct LTC persons with at least one onward referral to a funded service (target 1,118 at scale 1)."""
    funded_svc = [i for i, s in enumerate(SERVICES) if s[4] == "Funded"]
    sel = np.isin(onward["svc"], funded_svc) & (refs["prog"][onward["ref"]] == 0)
    return int(len(np.unique(refs["person"][onward["ref"][sel]])))


def _unlinked_defect(sim: Simulation) -> dict:
    """The planted defect of referred persons whose records do not link to HES."""
    return {"kind": "referrals_not_linked", "file": "outcome_tool/*/referrals.csv",
            "count": int(len(sim.unlinked)), "token_person_ids": sorted(sim.tokens[sim.unlinked].tolist()),
            "note": "referred persons absent from every persons.csv and HES file (valid but not linked)"}
