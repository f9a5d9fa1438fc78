"""Synthetic demo data in the shapes of docs/contract/inputs.md, with a planted truth.

``generate(out, scale, seed)`` simulates one timeline (April 2011 to June 2017) for a
risk-stratified, LTC-flagged population of 36 GP practices, refers some of them to the
social prescribing programmes (LTC Sep 2012 - Mar 2014, MH Apr 2015 - Mar 2016) *selected on a
recent spike in hospital use*, applies planted rate ratios after referral, and then cuts the
timeline into cumulative HES and outcome-tool deliveries plus quarterly provider workbooks.

Modules, in the order ``generate`` uses them:

- :mod:`.simulation` the one timeline, built from :mod:`.population` (persons, risk, referral
  selection) and :mod:`.health` (latent rates, events, the planted effect);
- :mod:`.hes` APC / A&E / OP tables and the HES deliveries;
- :mod:`.outcome_tool` referrals, onward referrals, assessments and their exports;
- :mod:`.provider_returns` the quarterly xlsx workbooks;
- :mod:`.truth` truth.json and truth_patients.csv;
- :mod:`.calibration` (model parameters and published targets), :mod:`.constants` (code sets,
  providers, services, planted-defect counts), :mod:`.timeline`, :mod:`.streams`, :mod:`.output`.

The generative model, its calibration and the planted defects are described in
``docs/decisions/0002-synthetic-demo-data.md``; ``truth.json`` and ``truth_patients.csv`` are
written beside the data so tests can check the pipeline against the truth.

``generate(..., spike_share=s)`` (off by default) fills a share ``s`` of each month's referral slots with
persons referred 1-28 days after one of their own emergency admissions or A&E attendances, as a GP refers
after an acute episode: a harder selection pattern for benchmarks of the matched comparison
(bench/truth_coverage.py).

Everything is vectorised with numpy/polars (loops run over months, measures, deliveries and
workbooks only; the xlsx writer necessarily writes row by row).  Every section draws from its own
named random stream, so the same seed and scale give byte-identical files.
"""

from __future__ import annotations

import pathlib

from . import hes, outcome_tool, provider_returns, truth
from .simulation import simulate

__all__ = ["generate"]


def generate(out: pathlib.Path, scale: float = 1.0, seed: int = 42, spike_share: float = 0.0,
             spike_days: int = 28) -> dict:
    """Write the synthetic data set under ``out``; return {relative file path: row count}.

    ``spike_share`` (default 0: off) is the share of each month's referral slots (LTC and MH) filled with
    eligible persons who had an emergency admission or A&E attendance shortly before, referred on a weekday
    1..``spike_days`` days after it within that month (``population.select_referrals``); the other slots
    are filled by the usual selection, so monthly volumes are unchanged. No event is added; the effect is
    applied, and the truth computed, from that index date, which referrals.csv shows. truth.json records
    the setting under "pre_referral_spike". With the default the output is byte-identical to a generator
    without the option.
    """
    out = pathlib.Path(out)
    if scale <= 0:
        raise ValueError("scale must be positive")
    summary: dict[str, int] = {}
    sim = simulate(seed, scale, spike_share=spike_share, spike_days=spike_days)
    hes_log = hes.write_deliveries(out, sim, summary)
    refs, onward, assess = outcome_tool.simulate_outcome_tool(sim)
    late_info = outcome_tool.write_exports(out, sim, refs, onward, assess, summary)
    provider_defects = provider_returns.write_returns(seed, out, refs, onward, summary)
    truth.write_truth(out, sim, refs, onward, hes_log, provider_defects, late_info, summary)
    return dict(sorted(summary.items()))
