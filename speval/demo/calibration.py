"""The planted truth, the generative model's parameters and the published figures they are tuned to.

The rate ratios are the effect the pipeline should recover; the rest shapes the data so a naive
before/after comparison looks like the published evaluations (see
``docs/decisions/0002-synthetic-demo-data.md``).  ``CALIBRATION_TARGETS`` is copied into truth.json
so the targets and the simulated figures can be compared side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rate ratios applied to a referred person's latent rates from the index date onwards.
RATE_RATIOS: dict[str, float] = {
    "emergency_admissions": 0.85,
    "elective_admissions": 1.00,
    "ae_attendances": 0.90,
    "outpatient_appointments": 0.95,
}

#: Simulated measures, in the order of every per-measure array (counts, events, rates, RR).
MEASURES = ("emergency", "elective", "ae", "op")
#: RATE_RATIOS in MEASURES order.
RR = np.array(
    [
        RATE_RATIOS["emergency_admissions"],
        RATE_RATIOS["elective_admissions"],
        RATE_RATIOS["ae_attendances"],
        RATE_RATIOS["outpatient_appointments"],
    ]
)

# --------------------------------------------------------------------------------------
# Population size and referral volumes
# --------------------------------------------------------------------------------------

N_PRACTICES = 36
N_REFERRING = 29
#: LTC referred persons and MH referrals at scale 1.
LTC_REFERRED_PERSONS = 1607
MH_REFERRALS = 156
#: Monthly LTC referral volumes Sep 2012 - Mar 2014 at scale 1 (808 in the first 12 months).
LTC_MONTHLY = np.array([22, 38, 48, 52, 58, 66, 74, 80, 86, 90, 95, 99, 110, 115, 118, 100, 118, 118, 120])
#: Monthly MH referral volumes Apr 2015 - Mar 2016 at scale 1 (156 in the year).
MH_MONTHLY = np.array([8, 10, 12, 12, 13, 14, 14, 14, 12, 15, 16, 16])
POOL_MULTIPLIER = 11.5  # never-referred persons per referred person (>= 10 after unlinking)


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

#: The published figures the model is tuned to (truth.json "calibration_targets").
CALIBRATION_TARGETS = {
    "source": "ltc-pilot-social-economic-impact-2014 (Table 1, Table 2, section 1.2); "
              "ltc-pilot-interim-summary-2013; mh-pilot-key-findings-2016",
    "ltc_referred_persons": LTC_REFERRED_PERSONS,
    "ltc_referrals_first_12_months": 808,
    "ltc_persons_referred_on_to_funded": 1118,
    "non_funded_onward_referrals": ">200",
    "statutory_onward_referrals": ">300",
    "mh_referrals": MH_REFERRALS,
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
}
