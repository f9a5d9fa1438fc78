"""`speval value-for-money`: the value-for-money scenarios recomputed from a commissioner's own numbers or from
a finished run's `tables/value_inputs.csv` (docs/contract/rules.md "Value for money", ADR 0019).

The arithmetic is `speval.economics.scenarios`, the same functions the pipeline uses; this module only reads
and checks the inputs, names the scenarios, lays the rows out as a table and a CSV, and refuses bad input with
one sentence (`CalculatorRefused`). It does not import Dagster.

Two ways in:

- numbers: an annual benefit B and an annual cost; one row per drop-off, basis `entered`.
- a run: each basis of `value_inputs.csv` (naive, matched) gives the benefit to date (saving per patient ×
  referred to date against the cost to date, one year, undiscounted, as in the run's value_for_money.csv) and
  the drop-off scenarios of its annual benefit against the annual cost. `--cost`, `--years`, `--discount-rate`
  and `--drop-off` replace the run's annual cost and the scenarios' settings; the benefit to date keeps the
  run's cost to date.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from speval.economics.scenarios import (DISCOUNT_RATE, PAYBACK_HORIZON_MONTHS, YEARS, projected_benefit, ratio,
                                        scenario_rows)
from speval.run.vocabulary import COST_BASES, VALUE_SCENARIOS

DEFAULT_OUT = "value_for_money_scenarios.csv"
VALUE_INPUTS = Path("tables") / "value_inputs.csv"
ENTERED = "entered"  # the basis of scenarios computed from numbers typed in
TO_DATE = next(s for s in VALUE_SCENARIOS if s.drop_off is None)
DEFAULT_DROP_OFFS = tuple(s.drop_off for s in VALUE_SCENARIOS if s.drop_off is not None)
_NAMED_DROP_OFFS = {s.drop_off: s.code for s in VALUE_SCENARIOS if s.drop_off is not None}
MAX_YEARS = 100

SCENARIOS_SCHEMA = {"basis": pl.String, "scenario": pl.String, "years": pl.Int64, "discount_rate": pl.Float64,
                    "drop_off": pl.Float64, "annual_benefit_gbp": pl.Float64, "benefit_gbp": pl.Float64,
                    "cost_gbp": pl.Float64, "roi": pl.Float64, "payback_months": pl.Int64}
INPUT_COLUMNS = ("basis", "saving_per_patient_gbp", "referred_to_date", "referred_last_year", "annual_benefit_gbp",
                 "cost_to_date_gbp", "annual_cost_gbp", "price_year")
_WHOLE = ("referred_to_date", "referred_last_year")
_MONEY = ("saving_per_patient_gbp", "annual_benefit_gbp", "cost_to_date_gbp", "annual_cost_gbp")


class CalculatorRefused(ValueError):
    """The calculator's input is unusable: the message says which input and why, in one line."""


# ---------------------------------------------------------------------------------------------------- inputs
_GROUPED = re.compile(r"^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")


def parse_amount(text: str | float, option: str, *, positive: bool = False) -> float:
    """An amount of pounds as typed: `573769`, `573769.50`, `573,769` or `£573,769`."""
    written = str(text).strip()
    plain = written.removeprefix("£").strip()
    if "," in plain:
        if not _GROUPED.match(plain):
            raise CalculatorRefused(f"{option} must be an amount of pounds such as 573769 or 573,769, "
                                    f"not {written!r}")
        plain = plain.replace(",", "")
    value = _number(plain, option, written, "an amount of pounds such as 573769")
    if value < 0:
        raise CalculatorRefused(f"{option} must not be negative (got {written})")
    if positive and value == 0:
        raise CalculatorRefused(f"{option} must be more than £0: a return on a zero cost is not defined")
    return value


def parse_share(text: str | float, option: str, *, below_one: bool = False) -> float:
    """A share between 0 and 1 (1 itself excluded when `below_one`)."""
    written = str(text).strip()
    value = _number(written, option, written, "a share between 0 and 1, e.g. 0.2 for 20%")
    if value < 0 or value > 1 or (below_one and value == 1):
        raise CalculatorRefused(f"{option} must be between 0 and {'1 (excluded)' if below_one else '1'}, "
                                f"e.g. {'0.035 for 3.5%' if below_one else '0.2 for 20%'} (got {written})")
    return value


def parse_years(text: str | int, option: str = "--years") -> int:
    written = str(text).strip()
    if not re.fullmatch(r"[0-9]+", written) or not 1 <= int(written) <= MAX_YEARS:
        raise CalculatorRefused(f"{option} must be a whole number of years from 1 to {MAX_YEARS} (got {written!r})")
    return int(written)


def _number(plain: str, option: str, written: str, what: str) -> float:
    try:
        value = float(plain)
    except ValueError:
        raise CalculatorRefused(f"{option} must be {what}, not {written!r}") from None
    if not math.isfinite(value):
        raise CalculatorRefused(f"{option} must be {what}, not {written!r}")
    return value


@dataclass(frozen=True)
class BasisInputs:
    """What one basis's scenarios start from. The *_to_date fields are only known for a run."""

    basis: str
    annual_benefit: float | None
    annual_cost: float | None
    saving_per_patient: float | None = None
    referred_to_date: int | None = None
    referred_last_year: int | None = None
    cost_to_date: float | None = None
    price_year: str | None = None
    from_run: bool = False


def value_inputs_path(run: str | Path) -> Path:
    """The value_inputs.csv of a run folder (the file itself may be given)."""
    path = Path(run)
    return path if path.suffix.lower() == ".csv" else path / VALUE_INPUTS


def read_value_inputs(path: Path) -> list[BasisInputs]:
    """The rows of a run's tables/value_inputs.csv, checked: every column present, numbers where numbers are
    expected (blank allowed: a basis with no estimate, a programme with no cost), one row per basis."""
    if not path.is_file():
        raise CalculatorRefused(f"{path} is missing: --run takes a finished run's folder, the one holding "
                                f"{VALUE_INPUTS.as_posix()}")
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except Exception as error:  # not a CSV at all
        raise CalculatorRefused(f"{path} is not a readable CSV file ({type(error).__name__})") from None
    missing = [c for c in INPUT_COLUMNS if c not in raw.columns]
    if missing:
        raise CalculatorRefused(f"{path} lacks column(s) {', '.join(missing)} (expected {', '.join(INPUT_COLUMNS)})")
    if raw.height == 0:
        raise CalculatorRefused(f"{path} has no rows")
    frame = raw.select(INPUT_COLUMNS).with_columns(pl.all().str.strip_chars().replace("", None))
    rows = []
    seen: set[str] = set()
    for number, row in enumerate(frame.iter_rows(named=True), start=1):
        basis = row["basis"]
        if basis is None:
            raise CalculatorRefused(f"{path} row {number}: basis is blank")
        if basis in seen:
            raise CalculatorRefused(f"{path} row {number}: more than one row for basis {basis}")
        seen.add(basis)
        values: dict[str, float | int | None] = {}
        for column in (*_MONEY, *_WHOLE):
            text = row[column]
            if text is None:
                values[column] = None
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or (column in _WHOLE and (value < 0 or value != int(value))):
                kind = "a whole number of people" if column in _WHOLE else "a number of pounds"
                raise CalculatorRefused(f"{path} row {number}: {column} is not {kind} ({text!r})")
            values[column] = int(value) if column in _WHOLE else value
        for column in ("annual_cost_gbp", "cost_to_date_gbp"):
            if values[column] is not None and values[column] < 0:
                raise CalculatorRefused(f"{path} row {number}: {column} is negative")
        rows.append(BasisInputs(
            basis=basis, annual_benefit=values["annual_benefit_gbp"], annual_cost=values["annual_cost_gbp"],
            saving_per_patient=values["saving_per_patient_gbp"], referred_to_date=values["referred_to_date"],
            referred_last_year=values["referred_last_year"], cost_to_date=values["cost_to_date_gbp"],
            price_year=row["price_year"], from_run=True))
    order = {b.code: i for i, b in enumerate(COST_BASES)}
    return sorted(rows, key=lambda r: order.get(r.basis, len(order)))


# ---------------------------------------------------------------------------------------------- scenarios
def scenario_name(drop_off: float) -> str:
    """drop_off_0, drop_off_20, drop_off_33 for the standard drop-offs (as in value_for_money.csv), otherwise
    the percentage: drop_off_12.5 (drop_off_33.0 for 0.33, which is not the standard 0.333)."""
    if drop_off in _NAMED_DROP_OFFS:
        return _NAMED_DROP_OFFS[drop_off]
    name = f"drop_off_{100 * drop_off:.10g}"
    return f"drop_off_{100 * drop_off:.1f}" if name in _NAMED_DROP_OFFS.values() else name


def basis_rows(inputs: BasisInputs, drop_offs: tuple[float, ...] = DEFAULT_DROP_OFFS, years: int = YEARS,
               discount_rate: float = DISCOUNT_RATE) -> list[dict]:
    """The scenario rows of one basis (the columns of SCENARIOS_SCHEMA): from a run, first the benefit to date;
    then one row per drop-off. A basis with no annual benefit has blank benefit, ROI and payback."""
    rows = []
    if inputs.from_run:
        to_date = (None if inputs.saving_per_patient is None or inputs.referred_to_date is None
                   else inputs.saving_per_patient * inputs.referred_to_date)
        row = {"basis": inputs.basis, "scenario": TO_DATE.code, "years": TO_DATE.years, "discount_rate": 0.0,
               "drop_off": None, "annual_benefit_gbp": to_date, "cost_gbp": inputs.cost_to_date}
        if to_date is not None:
            row["benefit_gbp"] = projected_benefit(to_date, 0.0, TO_DATE.years, 0.0)
            row["roi"] = ratio(row["benefit_gbp"], inputs.cost_to_date)
        rows.append(row)
    names = {scenario_name(d): d for d in drop_offs}
    if inputs.annual_benefit is None:
        rows += [{"basis": inputs.basis, "scenario": name, "years": years, "discount_rate": discount_rate,
                  "drop_off": d, "cost_gbp": inputs.annual_cost} for name, d in names.items()]
        return rows
    for s in scenario_rows(inputs.annual_benefit, inputs.annual_cost, names, years, discount_rate):
        rows.append({"basis": inputs.basis, "scenario": s.scenario, "years": s.years,
                     "discount_rate": s.discount_rate, "drop_off": s.drop_off,
                     "annual_benefit_gbp": inputs.annual_benefit, "benefit_gbp": s.benefit_gbp,
                     "cost_gbp": s.cost_gbp, "roi": s.roi, "payback_months": s.payback_months})
    return rows


@dataclass(frozen=True)
class Calculation:
    inputs: list[BasisInputs]
    table: pl.DataFrame  # SCENARIOS_SCHEMA
    years: int
    discount_rate: float
    source: Path | None  # the value_inputs.csv read, or None for numbers


def calculate(*, annual_benefit: str | float | None = None, cost: str | float | None = None,
              run: str | Path | None = None, years: str | int = YEARS, discount_rate: str | float = DISCOUNT_RATE,
              drop_offs: list[str] | list[float] | None = None) -> Calculation:
    """Check the inputs as typed (strings from the command line, or numbers) and compute the scenarios;
    CalculatorRefused, in one line, when they cannot be used."""
    if run is not None and annual_benefit is not None:
        raise CalculatorRefused("give either --annual-benefit (with --cost) or --run, not both")
    if run is None and annual_benefit is None:
        raise CalculatorRefused("give --annual-benefit and --cost, or --run <run folder>")
    if run is None and cost is None:
        raise CalculatorRefused("--cost is needed with --annual-benefit: the programme's annual cost in pounds")
    n_years = parse_years(years)
    rate = parse_share(discount_rate, "--discount-rate", below_one=True)
    shares = (DEFAULT_DROP_OFFS if not drop_offs else
              tuple(dict.fromkeys(parse_share(d, "--drop-off") for d in drop_offs)))
    annual_cost = None if cost is None else parse_amount(cost, "--cost", positive=True)
    if run is None:
        benefit = parse_amount_signed(annual_benefit, "--annual-benefit")
        inputs = [BasisInputs(ENTERED, benefit, annual_cost)]
        source = None
    else:
        source = value_inputs_path(run)
        inputs = read_value_inputs(source)
        if annual_cost is not None:
            inputs = [replace(i, annual_cost=annual_cost) for i in inputs]
    rows = [row for i in inputs for row in basis_rows(i, shares, n_years, rate)]
    return Calculation(inputs, pl.DataFrame(rows, schema=SCENARIOS_SCHEMA), n_years, rate, source)


def parse_amount_signed(text: str | float, option: str) -> float:
    """An annual benefit: like an amount of pounds, but it may be negative (the programme added costs)."""
    written = str(text).strip()
    negative = written.startswith("-")
    value = parse_amount(written[1:] if negative else written, option)
    return -value if negative else value


# ------------------------------------------------------------------------------------------------- output
def write_scenarios(table: pl.DataFrame, path: Path) -> None:
    """The scenarios as CSV, unrounded, blank (never NaN) where there is no value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path)


def _gbp(value: float | None) -> str:
    if value is None:
        return "—"
    return f"-£{-value:,.0f}" if round(value) < 0 else f"£{value:,.0f}"


def _payback(row: dict) -> str:
    if row["drop_off"] is None:
        return "—"  # the benefit to date is not a payback scenario
    if row["benefit_gbp"] is None or row["cost_gbp"] is None:
        return "—"
    if row["payback_months"] is None:
        return f"not within {PAYBACK_HORIZON_MONTHS} months"
    return f"{row['payback_months']} month{'s' if row['payback_months'] != 1 else ''}"


def _share(value: float) -> str:
    return f"{100 * value:.10g}%"


def _scenario_label(row: dict) -> str:
    if row["drop_off"] is None:
        return "Benefit to date (one year)"
    return (f"{row['years']} year{'s' if row['years'] != 1 else ''}, "
            + ("benefit sustained" if row["drop_off"] == 0 else f"falling {_share(row['drop_off'])} a year"))


def _layout(header: tuple[str, ...], lines: list[tuple[str, ...]], right: set[int]) -> list[str]:
    widths = [max(len(str(x[i])) for x in (header, *lines)) for i in range(len(header))]
    return ["  " + "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
            for cells in (header, *lines)]


def render(calc: Calculation) -> str:
    """The scenarios as a readable table: pounds with thousands separators, ROI to 2 dp, payback in months."""
    labels = {b.code: b.label for b in COST_BASES}
    out = []
    if calc.source is not None:
        out.append(f"Value for money from {calc.source}")
    discount = (f"discounted at {_share(calc.discount_rate)} a year (first year not discounted)"
                if calc.discount_rate else "undiscounted")
    out.append(f"Projection: {calc.years} year{'s' if calc.years != 1 else ''}, {discount}; payback looked for "
               f"within {PAYBACK_HORIZON_MONTHS} months.")
    for inputs in calc.inputs:
        out.append("")
        if inputs.from_run:
            out.append(f"{inputs.basis}: {labels.get(inputs.basis, inputs.basis)}"
                       + (f" (prices of {inputs.price_year})" if inputs.price_year else ""))
            if inputs.saving_per_patient is None:
                out.append("  no estimate on this basis: no benefit to value")
            else:
                out.append(f"  saving per patient {_gbp_exact(inputs.saving_per_patient)}; referred to date "
                           f"{_count(inputs.referred_to_date)}, in the last year {_count(inputs.referred_last_year)}")
        out.append(f"  annual benefit {_gbp(inputs.annual_benefit)}, annual cost {_gbp(inputs.annual_cost)}"
                   + (f", cost to date {_gbp(inputs.cost_to_date)}" if inputs.from_run else ""))
        rows = [r for r in calc.table.iter_rows(named=True) if r["basis"] == inputs.basis]
        lines = [(_scenario_label(r), _gbp(r["benefit_gbp"]), _gbp(r["cost_gbp"]),
                  "—" if r["roi"] is None else f"{r['roi']:,.2f}", _payback(r)) for r in rows]
        out += _layout(("Scenario", "Benefit", "Cost", "ROI", "Payback"), lines, right={1, 2, 3})
    return "\n".join(out)


def _gbp_exact(value: float) -> str:
    return f"-£{-value:,.2f}" if value < 0 else f"£{value:,.2f}"


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
