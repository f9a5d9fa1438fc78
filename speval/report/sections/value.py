"""Section: value for money and social value (docs/contract/rules.md "Economic and social value", ADR 0019).

The hospital costs avoided per patient, naive and matched, and the return on investment they give against the
programme's cost; the social return (SROI) of well-being, volunteering, welfare and levered funding; how both
move with their assumptions (:mod:`speval.economics.sensitivity`); and the reference values behind them, with
their status, source and licence.

Every figure shown comes from :mod:`speval.report.disclosure`: a saving per patient is a mean over the group
it was estimated on (the 12 month cohort, or its matched groups), so it, and every return worked from it, is
withheld with that group; counts (people referred, awards, hours) are rounded; money is shown as computed. The
charts draw the published strings' values. Wording is in ``reports/templates/sections/value.html.j2`` and
``value_sentences.j2``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import polars as pl
from markupsafe import Markup

from speval.economics.reference import REFERENCE_FILES
from speval.economics.sensitivity import (ADJUSTMENT_STEP, DROP_OFF_RANGE, HEALTH_DISCOUNT_RATE,
                                          HIGH_DISCOUNT_RATE, UNIT_COST_SPREAD, ReturnInputs, SocialValue, Swing,
                                          break_even_saving, reaching, return_swings, social_swings)
from speval.report import charts
from speval.report import disclosure as dc
from speval.report.format import (grouped, humanise, in_sentence, in_words, is_number, month_year, pounds,
                                  pounds_interval, rate)
from speval.report.sections.common import COHORT_LABELS, table
from speval.report.templating import sentence
from speval.run.vocabulary import COST_BASES, COST_ITEMS, PROGRESS_THRESHOLDS, SROI_COMPONENTS, VALUE_SCENARIOS

SENTENCES = "sections/value_sentences.j2"
#: The section is shown when the run gave any of these (a warehouse from before ADR 0019 has none).
ECONOMICS_TABLES = ("costs_avoided", "value_for_money", "value_inputs", "sroi")
BASIS_LABELS = {b.code: b.label for b in COST_BASES}
ITEM_LABELS = {i.code: i.label for i in COST_ITEMS}
COMPONENT_LABELS = {c.code: c.label for c in SROI_COMPONENTS}
TOTAL = "total"
#: The scenario the quotable sentence, the tornado and break-even are about: five years, benefits sustained.
HEADLINE_SCENARIO = next(s for s in VALUE_SCENARIOS if s.drop_off == 0.0)
WAGE_LABELS = {"national_minimum_wage": "National minimum wage", "median_hourly_pay": "Median hourly pay"}
#: How well-being progress is valued (analysis plan `wellbeing_valuation`; reference/wellbeing_proxies.csv `basis`).
VALUATION_LABELS = {"hact_wellbeing_valuation": "HACT well-being valuation", "wellby": "WELLBY"}
#: The status of a reference value that is a placeholder, not from a source: flagged wherever it is shown.
ILLUSTRATIVE = "illustrative"


def _value(df: pl.DataFrame | None, column: str) -> Any:
    """The first row's value of a one-row summary table (None when absent or empty)."""
    if df is None or df.height == 0 or column not in df.columns:
        return None
    return df[column][0]


def _float(x: Any) -> float | None:
    """A number from a table cell (None when blank or not a number)."""
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _published_float(s: str) -> float | None:
    """The value of a published string, for charts (None unless it is a number)."""
    return float(s) if is_number(s) else None


def _money(value: Any, decimals: int = 0) -> str:
    """Money as the report prints it: published, then with £, separators and a proper minus sign."""
    return pounds(dc.publish_money(value, decimals))


# --------------------------------------------------------------------------- the costed groups


def basis_status(n: int | None, has_estimate: bool) -> str:
    """Whether a basis can be shown: 'ok'; 'empty' (nobody in the costed group); 'small' (1-7 people:
    suppressed); 'none' (people but no estimate, e.g. nobody matched); 'unknown' (the group's size is not
    in the tables given: withheld)."""
    if n is None:
        return "unknown"
    if n == 0:
        return "empty"
    if n <= dc.SMALL_MAX:
        return "small"
    return "ok" if has_estimate else "none"


def costed_groups(tables: Mapping[str, pl.DataFrame], cohort: str) -> dict[str, int | None]:
    """The size of the group behind each basis (the cohort, or its smaller matched group)."""
    effects = table(tables, "matched_effects")
    if effects is None or effects.height == 0:
        effects = table(tables, "matched_effects_all_settings")
    return dc.cost_basis_sizes(table(tables, "hospital_use"), effects, cohort)


# --------------------------------------------------------------------------- costs avoided


def _has_estimate(costs: pl.DataFrame | None, basis: str) -> bool:
    """Whether the basis has a total saving per patient at all (blank when its cohort had no estimate)."""
    if costs is None or not costs.height:
        return False
    total = costs.filter((pl.col("basis") == basis) & (pl.col("item") == TOTAL))["saving_per_patient_gbp"]
    return bool(total.is_not_null().any())


def costs_avoided(costs: pl.DataFrame | None, sizes: Mapping[str, int | None], people: Any
                  ) -> dict[str, Any]:
    """Table: per item (and in total, per patient and for everyone referred), the unit cost, events
    avoided and saving on each basis, the matched one with its 95% interval; and each basis's status."""
    pub = dc.publish_costs_avoided(costs, dict(sizes), people).to_dicts() if costs is not None else []
    cells = {(r["basis"], r["item"]): r for r in pub}
    status = {b: basis_status(sizes.get(b), _has_estimate(costs, b)) if pub else "unknown" for b in BASIS_LABELS}
    rows = []
    for code, label in ITEM_LABELS.items():
        n, m = cells.get(("naive", code)), cells.get(("matched", code))
        if n is None and m is None:
            continue
        unit = (n or m)["unit_cost_gbp"]
        rows.append({
            "item": code, "label": label, "total": code == TOTAL, "unit_cost": pounds(unit),
            "naive_events": grouped(n["events_avoided_per_patient"]) if n else "",
            "naive_saving": pounds(n["saving_per_patient_gbp"]) if n else "",
            "matched_events": grouped(m["events_avoided_per_patient"]) if m else "",
            "matched_saving": pounds(m["saving_per_patient_gbp"]) if m else "",
            "matched_ci": pounds_interval(m["saving_ci_low_gbp"], m["saving_ci_high_gbp"]) if m else "",
        })
    everyone = None
    n, m = cells.get(("naive", TOTAL)), cells.get(("matched", TOTAL))
    if n or m:
        everyone = {"naive": pounds(n["saving_people_gbp"]) if n else "",
                    "matched": pounds(m["saving_people_gbp"]) if m else "",
                    "matched_ci": pounds_interval(m["saving_people_ci_low_gbp"], m["saving_people_ci_high_gbp"])
                    if m else ""}
    cohort = next((r["cohort"] for r in pub), "")
    return {"rows": rows, "everyone": everyone, "status": status, "cohort": cohort,
            "cohort_label": COHORT_LABELS.get(cohort, cohort)}


# --------------------------------------------------------------------------- return on investment


def _scenario_label(label: str, width: int = 20) -> str:
    """A scenario's label on two or three short lines under the chart."""
    return "<br>".join(textwrap.wrap(label, width))


def return_on_investment(vfm: pl.DataFrame | None, sizes: Mapping[str, int | None],
                         status: Mapping[str, str]) -> dict[str, Any]:
    """Figure and table: the return per £1 in each scenario, matched (with its 95% interval and the
    probability that it reaches £1) beside naive, and the months to payback."""
    pub = dc.publish_value_for_money(vfm, dict(sizes)).to_dicts() if vfm is not None else []
    cells = {(r["basis"], r["scenario"]): r for r in pub}
    rows = []
    for s in VALUE_SCENARIOS:
        m, n = cells.get(("matched", s.code)), cells.get(("naive", s.code))
        if m is None and n is None:
            continue
        rows.append({
            "scenario": s.code, "label": s.label, "cost": pounds((m or n)["cost_gbp"]),
            "matched": grouped(m["roi"]) if m else "", "matched_ci": _interval(m["roi_ci_low"], m["roi_ci_high"]) if m else "",
            "prob": m["prob_roi_at_least_1"] if m else "", "matched_payback": m["payback_months"] if m else "",
            "naive": grouped(n["roi"]) if n else "", "naive_payback": n["payback_months"] if n else "",
            "raw": {"matched": m, "naive": n},
        })
    chart, why = None, None
    drawn = [r for r in rows if is_number((r["raw"]["matched"] or {}).get("roi", ""))
             or is_number((r["raw"]["naive"] or {}).get("roi", ""))]
    if drawn:
        def values(basis: str, column: str) -> list[float | None]:
            return [_published_float((r["raw"][basis] or {}).get(column, "")) for r in drawn]

        chart = Markup(charts.roi_scenarios(
            [_scenario_label(r["label"]) for r in drawn], values("matched", "roi"),
            values("matched", "roi_ci_low"), values("matched", "roi_ci_high"), values("naive", "roi"),
            [grouped((r["raw"]["matched"] or {}).get("roi", "")) for r in drawn],
            [grouped((r["raw"]["naive"] or {}).get("roi", "")) for r in drawn],
            names=(BASIS_LABELS["matched"], BASIS_LABELS["naive"]), prefix="roi"))
    elif rows:
        why = next((status[b] for b in ("matched", "naive") if status.get(b) != "ok"), "none")
    headline = {b: (cells.get((b, HEADLINE_SCENARIO.code)) or {}) for b in BASIS_LABELS}
    return {"rows": rows, "chart_svg": chart, "chart_missing": why, "headline": headline}


def _interval(lo: str, hi: str) -> str:
    """A published interval of returns per £1, with proper minus signs."""
    if is_number(lo) and is_number(hi):
        return f"{grouped(lo)} to {grouped(hi)}"
    return dc.SUPPRESSED if dc.SUPPRESSED in (lo, hi) else ""


def quotable(roi: Mapping[str, Any], status: Mapping[str, str], price_year: str, cohort: str) -> str:
    """The sentence a commissioner can quote, from the matched five-year return (benefits sustained), with
    the naive one beside it and, when the matched interval reaches below £1, the probability that the return
    reaches £1; or one sentence saying why there is none."""
    m, n = roi["headline"]["matched"], roi["headline"]["naive"]
    value, lo, hi = m.get("roi", ""), m.get("roi_ci_low", ""), m.get("roi_ci_high", "")
    reason = status.get("matched", "unknown")
    if reason == "ok" and not is_number(value):
        reason = "no_cost" if not is_number(m.get("cost_gbp", "")) else "none"
    intervals = is_number(lo) and is_number(hi)
    return sentence(SENTENCES, "quotable", reason=reason, roi=pounds(value), lo=pounds(lo), hi=pounds(hi),
                    negative=is_number(value) and float(value) < 0,
                    below_one=intervals and float(lo) < 1, above_one=intervals and float(lo) >= 1,
                    naive=pounds(n.get("roi", "")) if is_number(n.get("roi", "")) else "",
                    naive_shown=status.get("naive") == "ok", prob=m.get("prob_roi_at_least_1", ""),
                    years=in_words(HEADLINE_SCENARIO.years), price_year=price_year, cohort=cohort)


# --------------------------------------------------------------------------- social return


def _range(values: list[float], decimals: int = 0) -> str:
    """`£a–£b` (or `£a` when all are equal) of some amounts of money, all positive."""
    if not values:
        return ""
    lo, hi = _money(min(values), decimals), _money(max(values), decimals)
    return lo if lo == hi else f"{lo}–{hi}"


def _adjustment_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """A component's adjustments as the impact map lists them: ``deadweight 25%``."""
    return [{"name": r["adjustment"], "value": rate(r["value"])} for r in rows]


def social_return(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Table (the impact map): per component, what is counted and how it is valued, adjusted and worth
    (low to high); the social return per £1 of the cost to date; and well-being progress across measures."""
    sroi = table(tables, "sroi")
    pub = {r["component"]: r for r in dc.publish_sroi(sroi).to_dicts()} if sroi is not None else {}
    adj = table(tables, "reference_sroi_adjustments")
    adjustments: dict[str, list[dict[str, Any]]] = {}
    for r in adj.to_dicts() if adj is not None else []:
        adjustments.setdefault(r["component"], []).append(r)
    proxies = table(tables, "reference_wellbeing_proxies")
    wages = table(tables, "reference_wages")
    proxy = {
        "wellbeing": {"low": _range(proxies["value_low_gbp"].to_list()) if proxies is not None else "",
                      "high": _range(proxies["value_high_gbp"].to_list()) if proxies is not None else ""},
        "volunteering": {w: _range(wages.filter(pl.col("wage") == w)["hourly_gbp"].to_list(), 2)
                         if wages is not None else "" for w in WAGE_LABELS},
    }
    rows = []
    for code, label in COMPONENT_LABELS.items():
        r = pub.get(code)
        if r is None or code == TOTAL:
            continue
        rows.append({"component": code, "label": label, "quantity": grouped(r["quantity"]), "unit": r["unit"],
                     "adjustments": _adjustment_text(adjustments.get(code, [])),
                     "low": pounds(r["value_low_gbp"]), "high": pounds(r["value_high_gbp"])})
    total = pub.get(TOTAL)
    progress = table(tables, "wellbeing_progress")
    pub_progress = ({r["measures_progressed"]: r for r in dc.publish_wellbeing_progress(progress).to_dicts()}
                    if progress is not None else {})
    progressed = [{"label": t.label, **pub_progress[t.code], "n_followup": grouped(pub_progress[t.code]["n_followup"])}
                  for t in PROGRESS_THRESHOLDS if t.code in pub_progress]
    return {
        "rows": rows, "proxy": proxy,
        "total": {"low": pounds(total["value_low_gbp"]), "high": pounds(total["value_high_gbp"]),
                  "per_pound_low": pounds(total["per_pound_low"]), "per_pound_high": pounds(total["per_pound_high"])}
        if total else None,
        "has_value": bool(total and is_number(total["value_low_gbp"])),
        "progress": progressed,
        "followup": progressed[0]["n_followup"] if progressed else "",
    }


def providers_work(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Volunteering hours (rounded like a count), welfare awards (a count) and their yearly value, funding
    levered in, and the providers whose work could not be attributed to any programme (organisation codes)."""
    vol, wel, lev = (table(tables, n) for n in ("volunteering_summary", "welfare_summary", "leverage_summary"))
    shares = table(tables, "provider_shares")
    first, last = _value(vol, "first_month"), _value(vol, "last_month")
    return {
        "hours": grouped(dc.publish_quantity(_value(vol, "programme_hours"))) if vol is not None else "",
        "first_month": month_year(first), "last_month": month_year(last),
        "awards": grouped(dc.publish_count(_value(wel, "awards"))) if wel is not None else "",
        "awards_value": _money(_value(wel, "annual_value_gbp")) if wel is not None else "",
        "funding_awards": grouped(dc.publish_quantity(_value(lev, "awards"))) if lev is not None else "",
        "funding": _money(_value(lev, "amount_gbp")) if lev is not None else "",
        "unattributed": (shares.filter(pl.col("share").is_null())["provider_code"].to_list()
                         if shares is not None and "share" in shares.columns else None),
    }


# --------------------------------------------------------------------------- sensitivity


def _published_return(x: float | None) -> tuple[float | None, str]:
    """A return per £1 from the sensitivity arithmetic, as published (2 decimals): its value and text."""
    s = dc.publish_money(x, 2)
    return _published_float(s), grouped(s)


def _swing_rows(swings: list[Swing], label) -> list[tuple[str, float | None, float | None, str, str]]:
    """Tornado rows, widest first, each labelled by `label(swing)`."""
    rows = []
    for s in sorted(swings, key=lambda s: -s.width):
        (lo, lo_text), (hi, hi_text) = _published_return(s.at_low), _published_return(s.at_high)
        rows.append((label(s), lo, hi, lo_text, hi_text))
    return rows


def _return_label(s: Swing) -> str:
    """A tornado row of the return: the assumption and its range."""
    if s.assumption == "saving":
        return f"Matched saving per patient ({pounds(dc.publish_money(s.low))} to {pounds(dc.publish_money(s.high))})"
    if s.assumption == "discount_rate":
        return f"Discount rate ({rate(s.low)} to {rate(s.high)})"
    if s.assumption == "drop_off":
        return f"Benefit falling each year ({rate(s.low)} to {rate(s.high)})"
    return f"Unit cost, {in_sentence(ITEM_LABELS.get(s.detail[0], humanise(s.detail[0])))} (±{rate(UNIT_COST_SPREAD)})"


def _social_label(s: Swing) -> str:
    """A tornado row of the social return: the assumption and its range."""
    if s.assumption == "valuation" and s.detail == ("wellbeing",):
        return "Well-being proxies (low to high)"
    if s.assumption == "valuation" and s.detail == ("volunteering",):
        return "Volunteering wage (minimum to median)"
    if s.assumption == "valuation":
        return f"{COMPONENT_LABELS.get(s.detail[0], humanise(s.detail[0]))} (low to high)"
    component, name = s.detail
    return f"{COMPONENT_LABELS.get(component, humanise(component))}: {name} ({rate(s.low)} to {rate(s.high)})"


def _change(s: Swing, end: str) -> str:
    """One end of an assumption's range as the break-even sentence names it."""
    value = s.low if end == "low" else s.high
    if s.assumption == "saving":
        return f"the saving at the {'bottom' if end == 'low' else 'top'} of its 95% interval"
    if s.assumption == "discount_rate":
        return f"a discount rate of {rate(value)}"
    if s.assumption == "drop_off":
        return f"benefits falling {rate(value)} a year" if value else "benefits sustained"
    item = in_sentence(ITEM_LABELS.get(s.detail[0], humanise(s.detail[0])))
    return f"the unit cost of {item} {rate(UNIT_COST_SPREAD)} {'lower' if end == 'low' else 'higher'}"


def return_inputs(tables: Mapping[str, pl.DataFrame]) -> ReturnInputs | None:
    """The matched five-year return's inputs from the tables (None when any is missing)."""
    costs, inputs = table(tables, "costs_avoided"), table(tables, "value_inputs")
    if costs is None or inputs is None or not costs.height or not inputs.height:
        return None
    matched = costs.filter(pl.col("basis") == "matched")
    items = {r["item"]: r["saving_per_patient_gbp"] for r in matched.to_dicts() if r["item"] != TOTAL}
    total = matched.filter(pl.col("item") == TOTAL).to_dicts()
    vi = inputs.filter(pl.col("basis") == "matched").to_dicts()
    if not items or any(v is None for v in items.values()) or not total or not vi:
        return None
    people, cost = vi[0]["referred_last_year"], _float(vi[0]["annual_cost_gbp"])
    if people is None or cost is None:
        return None
    return ReturnInputs({k: float(v) for k, v in items.items()},
                        (_float(total[0]["saving_ci_low_gbp"]), _float(total[0]["saving_ci_high_gbp"])),
                        int(people), cost, drop_off=HEADLINE_SCENARIO.drop_off)


def cost_to_date(tables: Mapping[str, pl.DataFrame]) -> float | None:
    """What the programme cost up to the quarter's end: from the value inputs or the programme cost, or else
    as the social return's total value over its value per £1 (the same division, undone)."""
    for name in ("value_inputs", "programme_cost"):
        cost = _float(_value(table(tables, name), "cost_to_date_gbp"))
        if cost is not None:
            return cost
    sroi = table(tables, "sroi")
    total = sroi.filter(pl.col("component") == TOTAL).to_dicts() if sroi is not None and sroi.height else []
    if total and _float(total[0]["per_pound_low"]) and total[0]["value_low_gbp"] is not None:
        return float(total[0]["value_low_gbp"]) / float(total[0]["per_pound_low"])
    return None


def social_inputs(tables: Mapping[str, pl.DataFrame]) -> tuple[list[SocialValue], float | None]:
    """Each social value component before adjustments, and the cost to date they are set against."""
    sroi, adj = table(tables, "sroi"), table(tables, "reference_sroi_adjustments")
    cost = cost_to_date(tables)
    if sroi is None or adj is None or not sroi.height:
        return [], cost
    shares: dict[str, dict[str, float]] = {}
    for r in adj.to_dicts():
        shares.setdefault(r["component"], {})[r["adjustment"]] = float(r["value"])
    components = []
    for r in sroi.to_dicts():
        if r["component"] == TOTAL or r["value_low_gbp"] is None or r["value_high_gbp"] is None:
            continue
        c = SocialValue.from_adjusted(r["component"], r["value_low_gbp"], r["value_high_gbp"],
                                      shares.get(r["component"], {}))
        if c is not None:
            components.append(c)
    return components, cost


def sensitivity(tables: Mapping[str, pl.DataFrame], status: Mapping[str, str], social_shown: bool
                ) -> dict[str, Any]:
    """Figures: the tornado of the matched five-year return (when the matched basis can be shown), with the
    total saving per patient that would bring it to £1 per £1, and the tornado of the social return."""
    inputs = return_inputs(tables) if status.get("matched") == "ok" else None
    return_svg, crossing, break_even = None, [], None
    if inputs is not None and inputs.at() is not None:
        swings = return_swings(inputs)
        used, used_text = _published_return(inputs.at())
        if used is not None:
            return_svg = Markup(charts.tornado(
                [(f"Matched return per £1, {in_words(HEADLINE_SCENARIO.years)} years, benefits sustained "
                  f"(used: {used_text})", used, _swing_rows(swings, _return_label))], prefix="tornado-roi"))
        crossing = [_change(s, end) for s, end in reaching(swings, inputs.at())]
        # From the rounded number of people, like any total worked from a count.
        needed = break_even_saving(dc.round5(inputs.people) or 0, inputs.annual_cost, drop_off=inputs.drop_off)
        if needed is not None:
            break_even = {"needed": _money(needed), "saving": _money(inputs.saving),
                          "ci": pounds_interval(*(dc.publish_money(v) for v in inputs.saving_interval)),
                          "above": inputs.at() >= 1}
    social_svg = None
    components, cost = social_inputs(tables) if social_shown else ([], None)
    if components and cost:
        value, text = _published_return(sum(c.value() for c in components) / cost)
        if value is not None:
            social_svg = Markup(charts.tornado(
                [(f"Social return per £1 spent to date (central value used: {text})", value,
                  _swing_rows(social_swings(components, cost), _social_label))], prefix="tornado-sroi"))
    return {"return_svg": return_svg, "social_svg": social_svg, "break_even": break_even, "crossing": crossing,
            "ranges": {"health_rate": rate(HEALTH_DISCOUNT_RATE), "high_rate": rate(HIGH_DISCOUNT_RATE),
                       "drop_low": rate(DROP_OFF_RANGE[0]), "drop_high": rate(DROP_OFF_RANGE[1]),
                       "unit_cost": rate(UNIT_COST_SPREAD), "step": rate(ADJUSTMENT_STEP).removesuffix("%")}}


# --------------------------------------------------------------------------- assumptions and sources


class _Sources:
    """Numbers each distinct (source, licence) once, in order of first use."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def ref(self, source: Any, licence: Any) -> int:
        key = {"source": str(source or ""), "licence": str(licence or "")}
        if key not in self.items:
            self.items.append(key)
        return self.items.index(key) + 1


def _period(start: Any, end: Any) -> str:
    """When a wage applied: ``Oct 2012–Sep 2013``, or ``from Apr 2016`` (still in force)."""
    def short(d: Any) -> str:
        return month_year(d)[:3] + month_year(d)[-5:]
    return f"{short(start)}–{short(end)}" if end else f"from {short(start)}"


def _refs(numbers: list[int]) -> str:
    """Source numbers as the table cites them: ``[1]``, ``[6–8]``, ``[1, 3]``."""
    numbers = sorted(set(numbers))
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"[{numbers[0]}–{numbers[-1]}]"
    return "[" + ", ".join(map(str, numbers)) + "]"


def assumptions(tables: Mapping[str, pl.DataFrame], price_year: str) -> dict[str, Any]:
    """Table: each reference value this run used (unit costs, price index, programme cost, wages, well-being
    proxies, SROI adjustments), one line per item with its values, years, status and numbered sources;
    illustrative lines flagged."""
    sources = _Sources()
    rows: list[dict[str, Any]] = []

    def add(item: str, value: str, year: str, used: list[dict[str, Any]]) -> None:
        statuses = list(dict.fromkeys(str(r["status"]) for r in used))
        rows.append({"item": item, "value": value, "year": year, "illustrative": ILLUSTRATIVE in statuses,
                     "other_statuses": [s for s in statuses if s != ILLUSTRATIVE],
                     "ref": _refs([sources.ref(r["source"], r["licence"]) for r in used])})

    def rows_of(name: str) -> list[dict[str, Any]]:
        df = table(tables, name)
        return df.to_dicts() if df is not None else []

    for r in rows_of("reference_unit_costs"):
        at_price = (f" ({_money(r['unit_cost_gbp'])} at {r['price_year']} prices)"
                    if r["cost_year"] != r["price_year"] and r["unit_cost_gbp"] is not None else "")
        add(f"Unit cost: {in_sentence(ITEM_LABELS.get(r['item'], humanise(r['item'])))}",
            f"{_money(r['cost_as_published_gbp'])}{at_price}", str(r["cost_year"]), [r])
    index = rows_of("reference_price_index")
    if index:
        add(f"Price index: {index[0]['index_name']}", ", ".join(f"{r['index_value']:g}" for r in index),
            ", ".join(r["financial_year"] for r in index), index)
    costs = rows_of("reference_programme_costs")
    if costs:
        add(f"Programme cost ({costs[0]['programme']}), per year", ", ".join(_money(r["cost_gbp"]) for r in costs),
            ", ".join(r["financial_year"] for r in costs), costs)
    wages = rows_of("reference_wages")
    for wage in dict.fromkeys(r["wage"] for r in wages):
        used = [r for r in wages if r["wage"] == wage]
        add(f"Volunteering: {WAGE_LABELS.get(wage, humanise(wage)).lower()}, per hour",
            ", ".join(_money(r["hourly_gbp"], 2) for r in used), _period(used[0]["valid_from"], used[-1]["valid_to"]),
            used)
    proxies = rows_of("reference_wellbeing_proxies")
    if proxies:
        basis = proxies[0]["basis"]
        add(f"Well-being proxy per measure progressed ({VALUATION_LABELS.get(basis, humanise(basis))}), "
            f"{len(proxies)} measures",
            f"low {_range([r['value_low_gbp'] for r in proxies])}, high {_range([r['value_high_gbp'] for r in proxies])}",
            "", proxies)
    adjustments = rows_of("reference_sroi_adjustments")
    if adjustments:
        names = list(dict.fromkeys(r["adjustment"] for r in adjustments))
        by_component: dict[str, dict[str, float]] = {}
        for r in adjustments:
            by_component.setdefault(r["component"], {})[r["adjustment"]] = r["value"]
        add(f"SROI adjustments ({', '.join(names)})",
            "; ".join(f"{in_sentence(COMPONENT_LABELS.get(c, humanise(c)))} "
                      + "/".join(rate(v[n]).removesuffix("%") for n in names if n in v) + "%"
                      for c, v in by_component.items()), "", adjustments)
    # The reference files the rows come from (data/reference/, named under the table: issue 14).
    files = [f"data/reference/{spec.filename}" for spec in REFERENCE_FILES
             if (df := table(tables, f"reference_{spec.name}")) is not None and df.height]
    return {"rows": rows, "sources": sources.items, "price_year": price_year,
            "any_illustrative": any(r["illustrative"] for r in rows), "files": files}


# --------------------------------------------------------------------------- the section


def value_for_money(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any] | None:
    """Everything the value-for-money section shows; None when the run gave no economics table at all (a
    warehouse built before them: the report then has no such section). Tables present but empty or blank
    give one sentence each saying why a figure is not shown."""
    if all(table(tables, n) is None for n in ECONOMICS_TABLES):
        return None
    costs, inputs = table(tables, "costs_avoided"), table(tables, "value_inputs")
    cohort = next(iter(costs["cohort"].drop_nulls().to_list()), dc.COST_BASIS_COHORT) \
        if costs is not None and costs.height else dc.COST_BASIS_COHORT
    sizes = costed_groups(tables, cohort)
    people = None
    pub_inputs: dict[str, dict[str, str]] = {}
    if inputs is not None and inputs.height:
        people = inputs["referred_to_date"][0]
        pub_inputs = {r["basis"]: r for r in dc.publish_value_inputs(inputs, dict(sizes)).to_dicts()}
    any_inputs = next(iter(pub_inputs.values()), {})
    unit = table(tables, "reference_unit_costs")
    price_year = any_inputs.get("price_year") or (str(unit["price_year"][0]) if unit is not None and unit.height
                                                  else "")
    cost_rows = costs_avoided(costs, sizes, people)
    status = cost_rows["status"]
    any_basis = "ok" in status.values()
    cost_rows["shown"] = bool(cost_rows["rows"]) and any_basis
    roi = return_on_investment(table(tables, "value_for_money"), sizes, status)
    roi["shown"] = bool(roi["rows"]) and any_basis
    social = social_return(tables)
    programme = table(tables, "programme_cost")
    return {
        "price_year": price_year,
        "cohort": cost_rows["cohort_label"] or COHORT_LABELS.get(cohort, cohort),
        "status": status,
        "costs": cost_rows,
        "referred": grouped(any_inputs.get("referred_to_date", "")),
        "referred_last_year": grouped(any_inputs.get("referred_last_year", "")),
        "cost_to_date": pounds(dc.publish_money(cost_to_date(tables))),
        "annual_cost": pounds(any_inputs.get("annual_cost_gbp", "")),
        "financial_year": str(_value(programme, "financial_year") or ""),
        "years_without_cost": str(_value(programme, "years_without_cost") or ""),
        "roi": roi,
        "quote": quotable(roi, status, price_year, cost_rows["cohort_label"]),
        "social": social,
        "providers": providers_work(tables),
        "sensitivity": sensitivity(tables, status, social["has_value"]),
        "assumptions": assumptions(tables, price_year),
        "bases": BASIS_LABELS,
        "years": in_words(HEADLINE_SCENARIO.years),
    }
