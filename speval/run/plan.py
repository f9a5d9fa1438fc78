"""The analysis plan (`analysis_plan.yaml`), fixed before any programme's data are analysed
(docs/decisions/0016-analysis-plan.md).

`load_plan()` reads it once per process: the sha256 of its bytes, its version, and the run parameters it
fixes, which are the defaults of every run (speval/run/spec.py, the Launchpad settings). `deviations(plan,
parameters)` lists each run parameter that differs from the plan; the run manifest and the report show them.
A missing or malformed plan is a `PlanError` of one line naming the file. No Dagster import.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from speval.package_data import data_file

PLAN_FILE = "analysis_plan.yaml"


class PlanError(ValueError):
    """The analysis plan is missing or malformed; the message is one line naming the file."""


@dataclass(frozen=True)
class AnalysisPlan:
    """What the plan fixes for a run, and which bytes said so."""

    path: Path
    sha256: str  # hex digest of the file's bytes
    plan_version: int
    caliper: float  # in standard deviations of the propensity-score logit
    ratio: int  # controls per referred person
    with_replacement: bool
    bootstrap_replicates: int
    seed: int
    followup_min_days: int
    followup_max_days: int
    primary_outcome: str
    primary_cohort: str
    primary_estimator: str
    wellbeing_valuation: str  # the basis of the well-being value in the SROI (data/reference/wellbeing_proxies.csv)

    @property
    def file(self) -> str:
        return PLAN_FILE

    @property
    def short_sha256(self) -> str:
        return self.sha256[:12]

    def manifest_entry(self) -> dict[str, Any]:
        """The run manifest's `analysis_plan`."""
        return {"file": PLAN_FILE, "sha256": self.sha256, "plan_version": self.plan_version}


@dataclass(frozen=True)
class Deviation:
    """One run parameter that differs from the plan: its name in words, the manifest's key for it, the value
    the plan fixes and the value the run used."""

    parameter: str
    key: str
    planned: Any
    used: Any

    def as_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "key": self.key, "planned": self.planned, "used": self.used}


def plan_file() -> Path:
    """The plan: inside the installed package (`speval/_data/`), or at the top of a checkout."""
    return data_file(PLAN_FILE)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Where each run parameter sits in the plan, and what it must be.
_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "plan_version": (("plan_version",), "int"),
    "caliper": (("method", "matching", "caliper"), "number"),
    "ratio": (("method", "matching", "ratio"), "int"),
    "with_replacement": (("method", "matching", "with_replacement"), "bool"),
    "bootstrap_replicates": (("method", "bootstrap_replicates"), "int"),
    "seed": (("method", "seed"), "int"),
    "followup_min_days": (("method", "followup_min_days"), "int"),
    "followup_max_days": (("method", "followup_max_days"), "int"),
    "primary_outcome": (("primary", "outcome"), "str"),
    "primary_cohort": (("primary", "cohort"), "str"),
    "primary_estimator": (("primary", "estimator"), "str"),
    "wellbeing_valuation": (("economics", "wellbeing_valuation"), "str"),
}
_CHECKS = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "number": (_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str) and v.strip() != "", "a name"),
}


def read_plan(path: Path) -> AnalysisPlan:
    """The plan in `path`, or PlanError (one line naming the file)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PlanError(f"the analysis plan {path} cannot be read ({error.strerror or error})") from None
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise PlanError(f"the analysis plan {path} is not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise PlanError(f"the analysis plan {path} is not UTF-8 text") from None
    if not isinstance(document, dict):
        raise PlanError(f"the analysis plan {path} is not a mapping of plan sections")
    values: dict[str, Any] = {}
    for name, (keys, kind) in _FIELDS.items():
        node: Any = document
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                raise PlanError(f"the analysis plan {path} has no {'.'.join(keys[:depth + 1])}")
            node = node[key]
        check, wanted = _CHECKS[kind]
        if not check(node):
            raise PlanError(f"the analysis plan {path}: {'.'.join(keys)} must be {wanted}, got {node!r}")
        values[name] = float(node) if kind == "number" else node
    return AnalysisPlan(path=path, sha256=hashlib.sha256(raw).hexdigest(), **values)


@functools.cache
def load_plan() -> AnalysisPlan:
    """The project's plan, read once per process (every default of a run comes from it)."""
    return read_plan(plan_file())


# Each run parameter the plan fixes: (words, manifest key, plan's value, run's value).
def _compared(plan: AnalysisPlan, parameters) -> list[tuple[str, str, Any, Any]]:
    matching, followup = parameters.matching, parameters.followup
    return [
        ("follow-up window, earliest review (days after baseline)", "followup_min_days",
         plan.followup_min_days, followup.min_days),
        ("follow-up window, latest review (days after baseline)", "followup_max_days",
         plan.followup_max_days, followup.max_days),
        ("matching caliper (SD of the propensity-score logit)", "matching_caliper_sd", plan.caliper, matching.caliper),
        ("matched controls per referred person", "matching_ratio", plan.ratio, matching.ratio),
        ("matching with replacement", "matching_with_replacement", plan.with_replacement,
         matching.with_replacement),
        ("bootstrap replicates", "bootstrap_replicates", plan.bootstrap_replicates, parameters.bootstrap_replicates),
        ("random seed", "seed", plan.seed, parameters.seed),
        ("well-being valuation basis of the SROI", "wellbeing_valuation", plan.wellbeing_valuation,
         parameters.wellbeing_valuation),
    ]


def deviations(plan: AnalysisPlan, parameters) -> list[Deviation]:
    """Every run parameter (of an `AnalysisParameters`) that differs from the plan, in the plan's order."""
    return [Deviation(words, key, planned, used) for words, key, planned, used in _compared(plan, parameters)
            if planned != used]
