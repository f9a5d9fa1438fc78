"""What one run evaluates, as typed values built once and passed to every stage (no Dagster import).

`RunSpec.build(...)` parses the quarter and programme and checks the parameters; `plan_run(spec)` checks
that the run is possible — the quarter has ended, a HES delivery and an outcome-tool export cover it, the
programme has referrals by its end — and resolves the deliveries it uses. Every refusal is one line
(`RunRefused`) naming what is wrong or missing (docs/decisions/0015-which-runs-are-possible.md).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from speval.ingest.deliveries import DeliveriesInUse, DeliveryError, select_deliveries
from speval.run.plan import AnalysisPlan, load_plan
from speval.run.quarters import Quarter
from speval.run.vocabulary import Programme

REPORT_PDF = "evaluation_report.pdf"
REPORT_HTML = "evaluation_report.html"
RUN_MANIFEST = "run_manifest.json"
# Where a run reads and writes unless told otherwise: the demo's folders, relative to where the command or
# `dagster dev` starts, or the folders a deployment names in these environment variables (docs/operations.md).
DEFAULT_DATA_DIR = os.environ.get("SPEVAL_DATA_DIR", "data/raw")
DEFAULT_OUT_DIR = os.environ.get("SPEVAL_OUT_DIR", "reports/out")
DEFAULT_WAREHOUSE_DIR = os.environ.get("SPEVAL_WAREHOUSE_DIR", "data/warehouse")


class RunRefused(ValueError):
    """The run cannot be right, so it is refused before any work; the message is one line."""


def _planned(name: str):
    """A default read from the analysis plan (analysis_plan.yaml, loaded once): the numbers live only there."""
    return field(default_factory=lambda: getattr(load_plan(), name))


@dataclass(frozen=True)
class FollowUpWindow:
    """The well-being review that counts as follow-up: dated this many days after the baseline, both ends
    included (docs/decisions/0010-wellbeing.md). Defaults: the analysis plan's."""

    min_days: int = _planned("followup_min_days")
    max_days: int = _planned("followup_max_days")

    @classmethod
    def from_plan(cls, plan: AnalysisPlan) -> FollowUpWindow:
        return cls(plan.followup_min_days, plan.followup_max_days)


@dataclass(frozen=True)
class MatchingMethod:
    """Nearest-neighbour matching on the propensity-score logit (docs/decisions/0012-matching-method.md).
    Defaults: the analysis plan's."""

    caliper: float = _planned("caliper")  # in standard deviations of the logit
    ratio: int = _planned("ratio")  # controls per referred person
    with_replacement: bool = _planned("with_replacement")

    @classmethod
    def from_plan(cls, plan: AnalysisPlan) -> MatchingMethod:
        return cls(plan.caliper, plan.ratio, plan.with_replacement)


@dataclass(frozen=True)
class AnalysisParameters:
    """The run's analysis parameters; those the analysis plan fixes default to it
    (docs/decisions/0016-analysis-plan.md), and `deviations(plan, parameters)` lists any that differ."""

    followup: FollowUpWindow = field(default_factory=FollowUpWindow)
    matching: MatchingMethod = field(default_factory=MatchingMethod)
    bootstrap_replicates: int = _planned("bootstrap_replicates")
    seed: int = _planned("seed")
    wellbeing_valuation: str = _planned("wellbeing_valuation")
    # A file of at least `quarantine_share_min_rows` rows (total rows aside) with more than
    # `max_quarantined_share` of them quarantined stops the run (docs/decisions/0013-run-isolation.md).
    max_quarantined_share: float = 0.5
    quarantine_share_min_rows: int = 20

    @classmethod
    def from_plan(cls, plan: AnalysisPlan, **others) -> AnalysisParameters:
        """The parameters the plan fixes (the quarantine limits, which it does not, from `others` or defaults)."""
        return cls(FollowUpWindow.from_plan(plan), MatchingMethod.from_plan(plan), plan.bootstrap_replicates,
                   plan.seed, plan.wellbeing_valuation, **others)

    def check(self) -> None:
        if not 0 <= self.followup.min_days <= self.followup.max_days:
            raise RunRefused("the follow-up window must satisfy 0 <= followup_min_days <= followup_max_days")
        if not self.matching.caliper > 0 or self.matching.ratio < 1:
            raise RunRefused("matching needs caliper > 0 and ratio >= 1")
        if self.bootstrap_replicates < 100:
            raise RunRefused("bootstrap_replicates must be at least 100")
        from speval.economics.reference import WELLBEING_BASES

        if self.wellbeing_valuation not in WELLBEING_BASES:
            raise RunRefused(f"wellbeing_valuation must be {' or '.join(WELLBEING_BASES)}, "
                             f"got {self.wellbeing_valuation!r}")
        if not 0 <= self.max_quarantined_share <= 1:
            raise RunRefused(f"max_quarantined_share must be between 0 and 1, got {self.max_quarantined_share}")
        if self.quarantine_share_min_rows < 1:
            raise RunRefused("quarantine_share_min_rows must be at least 1")


@dataclass(frozen=True)
class RunSpec:
    """One evaluation: a programme, a reporting quarter, where its inputs and outputs live, the analysis
    parameters, and (once planned) the deliveries it uses."""

    quarter: Quarter
    programme: Programme
    data_dir: Path
    out_dir: Path
    parameters: AnalysisParameters = field(default_factory=AnalysisParameters)
    deliveries: DeliveriesInUse | None = None

    @classmethod
    def build(cls, quarter: str, programme: str, data_dir: str | Path, out_dir: str | Path,
              parameters: AnalysisParameters | None = None) -> RunSpec:
        """Parse and check what a user typed; relative folders are taken from the working directory."""
        try:
            spec = cls(Quarter.parse(quarter), Programme.parse(programme), Path(data_dir).resolve(),
                       Path(out_dir).resolve(), parameters or AnalysisParameters())
        except ValueError as error:
            raise RunRefused(str(error)) from None
        spec.parameters.check()
        return spec

    @property
    def run_folder(self) -> Path:
        """`<out>/<PROGRAMME>/<QUARTER>/`, where everything for one run lands."""
        return self.out_dir / self.programme.code / self.quarter.key

    @property
    def report_pdf(self) -> Path:
        return self.run_folder / REPORT_PDF

    @property
    def planned(self) -> DeliveriesInUse:
        if self.deliveries is None:
            raise RuntimeError("the run has not been planned (plan_run) yet")
        return self.deliveries


def partition_warehouse(quarter: str, programme: str, folder: str | Path = DEFAULT_WAREHOUSE_DIR) -> Path:
    """The DuckDB file of one quarter and programme, `data/warehouse/<PROGRAMME>/<QUARTER>.duckdb` by default:
    each evaluation has its own, so evaluations of different quarters or programmes never share a writer."""
    return Path(folder).resolve() / programme / f"{quarter}.duckdb"


def plan_run(spec: RunSpec, today: dt.date | None = None) -> RunSpec:
    """The spec with its deliveries, or RunRefused: no delivery covering the quarter, a quarter that has not
    ended, or a programme with no referral dated on or before the quarter's last day."""
    try:
        deliveries = select_deliveries(spec.data_dir, spec.quarter)
    except DeliveryError as error:
        raise RunRefused(str(error)) from None
    today = today or dt.date.today()
    if spec.quarter.last_day >= today:
        raise RunRefused(f"{spec.quarter} has not ended yet (its last day is {spec.quarter.last_day.isoformat()}): "
                         f"a quarter is reported after it ends")
    referrals = spec.data_dir / "outcome_tool" / deliveries.outcome_tool / "referrals.csv"
    if referral_count(referrals, spec.programme, spec.quarter.last_day) == 0:
        raise RunRefused(f"no {spec.programme.code} referrals on or before {spec.quarter.last_day.isoformat()} "
                         f"in outcome-tool export {deliveries.outcome_tool}")
    return replace(spec, deliveries=deliveries)


def referral_count(referrals_csv: Path, programme: Programme, last_day: dt.date) -> int | None:
    """Referrals of the programme dated on or before `last_day`, read leniently (None when the file cannot be
    read: ingestion then refuses it with the proper message). Nothing of the file is printed."""
    try:
        frame = pl.read_csv(referrals_csv, infer_schema=False)
        columns = {c.strip().upper(): c for c in frame.columns}
        dates = pl.col(columns["REFERRAL_DATE"]).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        return frame.filter((pl.col(columns["PROGRAMME"]).str.strip_chars() == programme.code)
                            & (dates <= last_day)).height
    except Exception:  # unreadable here; the pipeline's own checks will say why
        return None


def parameters_row(spec: RunSpec) -> pl.DataFrame:
    """`analysis.parameters`: the planned run as the one row the SQL rules read (quarter bounds, programme,
    the HES delivery's coverage and cut-off, the follow-up window) and the report-integrity check compares."""
    used = spec.planned
    return pl.DataFrame(
        {
            "quarter": [spec.quarter.key],
            "quarter_start": [spec.quarter.first_day],
            "quarter_end": [spec.quarter.last_day],
            "programme": [spec.programme.code],
            "coverage_start": [used.hes_manifest.coverage_start],
            "cutoff": [used.hes_manifest.cutoff],
            "extracted_on": pl.Series([used.hes_manifest.extracted_on], dtype=pl.Date),
            "followup_min_days": [spec.parameters.followup.min_days],
            "followup_max_days": [spec.parameters.followup.max_days],
            "wellbeing_valuation": [spec.parameters.wellbeing_valuation],
            "hes_delivery": [used.hes],
            "previous_hes_delivery": pl.Series([used.previous_hes], dtype=pl.String),
            "outcome_tool_delivery": [used.outcome_tool],
            "provider_return_quarters": pl.Series([list(used.provider_returns)], dtype=pl.List(pl.String)),
        }
    )
