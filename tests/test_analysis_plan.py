"""The analysis plan (ADR 0016): analysis_plan.yaml parses, its hash is the file's, every run default comes
from it, a run that differs from it lists exactly the parameters that differ, and the manifest and report
say which plan the run was checked against. Fast: no pipeline run, no PDF."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from speval.report.outputs import write_manifest
from speval.report.render import build_context, render_html
from speval.run.plan import AnalysisPlan, Deviation, PlanError, deviations, load_plan, plan_file, read_plan
from speval.run.spec import AnalysisParameters, FollowUpWindow, MatchingMethod, RunSpec

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "analysis_plan.yaml"


def test_the_plan_parses_and_fixes_the_run_parameters():
    plan = load_plan()
    raw = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    method = raw["method"]
    assert plan_file() == PLAN
    assert plan.plan_version == raw["plan_version"] == 1
    assert (plan.caliper, plan.ratio, plan.with_replacement) == (
        method["matching"]["caliper"], method["matching"]["ratio"], method["matching"]["with_replacement"])
    assert (plan.bootstrap_replicates, plan.seed) == (method["bootstrap_replicates"], method["seed"])
    assert (plan.followup_min_days, plan.followup_max_days) == (method["followup_min_days"],
                                                                method["followup_max_days"])
    assert (plan.primary_outcome, plan.primary_cohort, plan.primary_estimator) == (
        raw["primary"]["outcome"], raw["primary"]["cohort"], raw["primary"]["estimator"])


def test_the_plan_hash_is_the_sha256_of_the_file_bytes():
    plan = load_plan()
    assert plan.sha256 == hashlib.sha256(PLAN.read_bytes()).hexdigest()
    assert plan.manifest_entry() == {"file": "analysis_plan.yaml", "sha256": plan.sha256, "plan_version": 1}


def test_every_default_is_the_plans():
    plan = load_plan()
    defaults = AnalysisParameters()
    assert defaults == AnalysisParameters.from_plan(plan)
    assert FollowUpWindow() == FollowUpWindow(plan.followup_min_days, plan.followup_max_days)
    assert MatchingMethod() == MatchingMethod(plan.caliper, plan.ratio, plan.with_replacement)
    assert (defaults.bootstrap_replicates, defaults.seed) == (plan.bootstrap_replicates, plan.seed)


def test_the_launchpad_defaults_are_the_plans():
    from assets.resources import EvaluationSettings

    plan = load_plan()
    fields = EvaluationSettings.model_fields
    assert {name: fields[name].default for name in ("followup_min_days", "followup_max_days", "caliper", "ratio",
                                                    "with_replacement", "bootstrap_replicates", "seed")} == {
        "followup_min_days": plan.followup_min_days, "followup_max_days": plan.followup_max_days,
        "caliper": plan.caliper, "ratio": plan.ratio, "with_replacement": plan.with_replacement,
        "bootstrap_replicates": plan.bootstrap_replicates, "seed": plan.seed}
    assert EvaluationSettings().run_spec("2013Q4", "LTC").parameters == AnalysisParameters()


def test_a_default_run_has_no_deviation():
    assert deviations(load_plan(), AnalysisParameters()) == []
    assert deviations(load_plan(), RunSpec.build("2013Q4", "LTC", REPO, REPO / "out").parameters) == []


def changed(parameters: AnalysisParameters, name: str, value) -> AnalysisParameters:
    if name in ("caliper", "ratio", "with_replacement"):
        return dataclasses.replace(parameters, matching=dataclasses.replace(parameters.matching, **{name: value}))
    return dataclasses.replace(parameters, **{name: value})


@pytest.mark.parametrize("name, value, words, key", [
    ("caliper", 0.5, "matching caliper (SD of the propensity-score logit)", "matching_caliper_sd"),
    ("ratio", 3, "matched controls per referred person", "matching_ratio"),
    ("bootstrap_replicates", 200, "bootstrap replicates", "bootstrap_replicates"),
    ("with_replacement", True, "matching with replacement", "matching_with_replacement"),
    ("seed", 7, "random seed", "seed"),
])
def test_a_changed_parameter_is_exactly_one_deviation(name, value, words, key):
    plan = load_plan()
    planned = {"caliper": plan.caliper, "ratio": plan.ratio, "with_replacement": plan.with_replacement,
               "bootstrap_replicates": plan.bootstrap_replicates, "seed": plan.seed}[name]
    assert deviations(plan, changed(AnalysisParameters(), name, value)) == [Deviation(words, key, planned, value)]


def test_a_launchpad_override_is_a_deviation():
    from assets.resources import EvaluationSettings

    parameters = EvaluationSettings(caliper=0.5, followup_max_days=150).run_spec("2013Q4", "LTC").parameters
    assert [(d.key, d.planned, d.used) for d in deviations(load_plan(), parameters)] == [
        ("followup_max_days", load_plan().followup_max_days, 150), ("matching_caliper_sd", load_plan().caliper, 0.5)]


# ---- a missing or malformed plan: one line naming the file


def edited_plan(tmp_path: Path, old: str, new: str) -> Path:
    text = PLAN.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "analysis_plan.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, message", [
    ("    caliper: 0.2\n", "    caliper: [0.2\n", "is not valid YAML at line"),
    ("    caliper: 0.2\n", "", "has no method.matching.caliper"),
    ("    caliper: 0.2\n", "    caliper: wide\n", "method.matching.caliper must be a number, got 'wide'"),
    ("  seed: 42\n", "  seed: 4.2\n", "method.seed must be a whole number, got 4.2"),
    ("plan_version: 1\n", "", "has no plan_version"),
])
def test_a_malformed_plan_is_one_line_naming_the_file(tmp_path, old, new, message):
    path = edited_plan(tmp_path, old, new)
    with pytest.raises(PlanError) as error:
        read_plan(path)
    assert message in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_missing_plan_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(PlanError, match=r"^the analysis plan .*analysis_plan\.yaml cannot be read \(No such file"):
        read_plan(tmp_path / "analysis_plan.yaml")


def test_an_edited_plan_has_another_hash(tmp_path):
    path = edited_plan(tmp_path, "  seed: 42\n", "  seed: 42  # same value, other bytes\n")
    plan = read_plan(path)
    assert isinstance(plan, AnalysisPlan) and plan.seed == load_plan().seed and plan.sha256 != load_plan().sha256


# ---- the manifest and the report


def test_the_manifest_records_the_plan_and_the_deviations(tmp_path):
    plan = load_plan()
    found = [d.as_dict() for d in deviations(plan, changed(AnalysisParameters(), "ratio", 3))]
    written = write_manifest(tmp_path / "run_manifest.json", parameters={}, deliveries={}, inputs=[], code={},
                             outputs=[], analysis_plan=plan.manifest_entry(), deviations_from_plan=found)
    stored = json.loads((tmp_path / "run_manifest.json").read_text(encoding="utf-8"))
    assert stored["analysis_plan"] == written["analysis_plan"] == {
        "file": "analysis_plan.yaml", "sha256": plan.sha256, "plan_version": 1}
    assert stored["deviations_from_plan"] == [{"parameter": "matched controls per referred person",
                                               "key": "matching_ratio", "planned": 1, "used": 3}]


def report_html(found: list[Deviation]) -> str:
    plan = load_plan()
    meta = {"programme": "LTC", "programme_name": "Long-term conditions", "quarter": "2013Q4",
            "quarter_end": "2013-12-31", "analysis_plan": plan.manifest_entry(),
            "deviations_from_plan": [d.as_dict() for d in found]}
    return " ".join(render_html(build_context({}, meta)).split())


def test_the_report_names_the_plan_and_says_the_run_followed_it():
    sha = load_plan().sha256
    html = report_html([])
    title_page = html.split('<nav class="toc">')[0]
    assert f'<th>Analysis plan</th><td>v1, sha256 <span class="mono">{sha[:12]}</span>…</td>' in title_page
    appendix = html.split('id="appendix-b"')[1]
    assert f'<td class="mono">{sha}</td>' in appendix
    assert "<p>The run followed the analysis plan.</p>" in appendix
    assert "Departures from the analysis plan" not in html and "departs from the analysis plan" not in html


def test_the_report_lists_the_departures_in_the_appendix_and_says_so_in_the_summary():
    plan = load_plan()
    html = report_html(deviations(plan, changed(changed(AnalysisParameters(), "caliper", 0.5),
                                                "bootstrap_replicates", 200)))
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert ("This run departs from the analysis plan in 2 parameters: Appendix C lists them, with the planned and "
            "used values, under “Departures from the analysis plan”.") in summary
    appendix = html.split('id="appendix-b"')[1]
    assert "<h3>Departures from the analysis plan</h3>" in appendix
    assert ('<th class="stub">matching caliper (SD of the propensity-score logit)</th>'
            f'<td class="text">{plan.caliper}</td><td class="text">0.5</td>') in appendix
    assert ('<th class="stub">bootstrap replicates</th>'
            f'<td class="text">{plan.bootstrap_replicates}</td><td class="text">200</td>') in appendix
    assert "The run followed the analysis plan." not in html


def test_the_sensitivity_grid_is_the_plans():
    """The 18 matching settings of the report's sensitivity table are the ones the plan names."""
    from speval.analysis.matching import sensitivity_grid

    grid = yaml.safe_load(plan_file().read_text(encoding="utf-8"))["sensitivity"]["matching_grid"]
    planned = {(c, k, r) for c in grid["caliper"] for k in grid["ratio"] for r in grid["with_replacement"]}
    assert {(s.caliper, s.ratio, s.replace) for s in sensitivity_grid()} == planned
    assert len(sensitivity_grid()) == len(planned) == 18
