"""The economic reference data (`data/reference/`): what each file must hold, read and checked in one place.

Unit costs, the price index, programme costs, wages, well-being proxies and SROI adjustments are committed
with the code, each row naming its source, licence and status (docs/contract/inputs.md "Reference data").
They are small and every row is used, so a bad row is not quarantined: the run stops with a message naming
the file, the row and the rule (`ReferenceDataError`). A Great Expectations suite built from the same
specification checks the loaded tables again (`speval.validate.expectations.reference_suite`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from speval.run.vocabulary import COST_ITEMS, PROGRAMMES, SROI_COMPONENTS, WELLBEING_MEASURES

STATUSES = ("published", "derived", "illustrative")
FINANCIAL_YEAR = r"^[0-9]{4}/[0-9]{2}$"
WELLBEING_BASES = ("hact_wellbeing_valuation", "wellby")
WAGES = ("national_minimum_wage", "median_hourly_pay")
ADJUSTMENTS = ("deadweight", "attribution", "displacement")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"  # text | number | date | year (financial year YYYY/YY)
    required: bool = True
    codes: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_exclusive: bool = False


@dataclass(frozen=True)
class ReferenceFile:
    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    description: str

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _provenance() -> tuple[Field, ...]:
    return (Field("status", codes=STATUSES), Field("source"), Field("licence"), Field("notes", required=False))


_YEAR = Field("financial_year", "year")
REFERENCE_FILES = (
    ReferenceFile("unit_costs", (
        Field("item", codes=tuple(i.code for i in COST_ITEMS if i.code != "total")), _YEAR,
        Field("cost_gbp", "number", min=0), Field("currency"), *_provenance()),
        ("item", "financial_year"), "National average cost of one event of each costed item, at its year's prices."),
    ReferenceFile("price_index", (
        _YEAR, Field("index_value", "number", min=0), Field("index_name"), *_provenance()),
        ("financial_year",), "One NHS pay-and-prices index, to express every unit cost at one price year."),
    ReferenceFile("programme_costs", (
        Field("programme", codes=tuple(p.code for p in PROGRAMMES)), _YEAR, Field("cost_gbp", "number", min=0),
        *_provenance()),
        ("programme", "financial_year"), "What the commissioner paid for each programme per financial year."),
    ReferenceFile("wages", (
        Field("wage", codes=WAGES), Field("valid_from", "date"), Field("valid_to", "date", required=False),
        Field("hourly_gbp", "number", min=0), *_provenance()),
        ("wage", "valid_from"), "Hourly rates that value volunteering: the national minimum wage and median pay."),
    ReferenceFile("wellbeing_proxies", (
        Field("measure", codes=tuple(m.code for m in WELLBEING_MEASURES)), Field("basis", codes=WELLBEING_BASES),
        Field("value_low_gbp", "number", min=0), Field("value_high_gbp", "number", min=0), *_provenance()),
        ("measure", "basis"), "The value of one referral's progress on one well-being measure, low and high."),
    ReferenceFile("sroi_adjustments", (
        Field("component", codes=tuple(c.code for c in SROI_COMPONENTS if c.code != "total")),
        Field("adjustment", codes=ADJUSTMENTS), Field("value", "number", min=0, max=1, max_exclusive=True),
        *_provenance()),
        ("component", "adjustment"), "Deadweight, attribution and displacement of each social value component."),
)
REFERENCE = {r.name: r for r in REFERENCE_FILES}


class ReferenceDataError(ValueError):
    """A reference file breaks a rule: the message names the file, the row and the rule."""


def _display(path: Path) -> str:
    """data/reference/<file> as the evaluator knows it (never a machine path)."""
    return f"data/reference/{path.name}"


def _typed(spec: ReferenceFile, raw: pl.DataFrame, shown: str) -> tuple[pl.DataFrame, list[str]]:
    """Cast each column to its type; the problems as '<file> row n: <rule>' (row 1 = the first data row)."""
    problems: list[str] = []
    missing = [c for c in spec.columns if c not in raw.columns]
    if missing:
        return raw, [f"{shown}: missing column(s) {', '.join(missing)} (expected {', '.join(spec.columns)})"]
    frame = raw.select(spec.columns).with_row_index("row", offset=1).with_columns(
        pl.col(spec.columns).str.strip_chars().replace("", None))
    casts = []
    for f in spec.fields:
        col = pl.col(f.name)
        if f.kind == "number":
            col = col.cast(pl.Float64, strict=False)
        elif f.kind == "date":
            col = col.str.to_date("%Y-%m-%d", strict=False)
        casts += [col.alias(f.name), pl.col(f.name).alias(f"{f.name}__as_written")]
    typed = frame.select("row", *casts)
    checks: list[tuple[pl.Expr, str]] = []
    for f in spec.fields:
        col, written = pl.col(f.name), pl.col(f"{f.name}__as_written")
        if f.required:
            checks.append((written.is_null(), f"{f.name} is blank"))
        if f.kind == "number":  # NaN and infinity parse as floats but are not numbers a cost can be
            checks.append((col.is_null() & written.is_not_null() | col.is_nan() | col.is_infinite(),
                           f"{f.name} is not a number"))
        if f.kind == "date":
            checks.append((col.is_null() & written.is_not_null(),
                           f"{f.name} is not a date written YYYY-MM-DD"))
        if f.kind == "year":
            well_formed = col.str.contains(FINANCIAL_YEAR)
            consecutive = (col.str.slice(5, 2).cast(pl.Int32, strict=False)
                           == (col.str.slice(0, 4).cast(pl.Int32, strict=False) + 1) % 100)
            checks.append((col.is_not_null() & ~(well_formed & consecutive).fill_null(False),
                           f"{f.name} is not a financial year written like 2013/14"))
        if f.codes:
            checks.append((col.is_not_null() & ~col.is_in(f.codes), f"{f.name} is not one of {', '.join(f.codes)}"))
        if f.min is not None:  # ranges are checked on numbers only (not a number is said above)
            checks.append((col.is_finite() & (col < f.min), f"{f.name} is below {f.min:g}"))
        if f.max is not None:
            checks.append((col.is_finite() & ((col >= f.max) if f.max_exclusive else (col > f.max)),
                           f"{f.name} is {'not below' if f.max_exclusive else 'above'} {f.max:g}"))
    for expr, rule in checks:
        bad = typed.filter(expr.fill_null(False))["row"]
        if bad.len():
            rows = ", ".join(str(r) for r in bad.head(5))
            problems.append(f"{shown} row {rows}{' …' if bad.len() > 5 else ''}: {rule}")
    duplicated = typed.filter(pl.struct(spec.key).is_duplicated())["row"]
    if duplicated.len():
        problems.append(f"{shown} row {', '.join(str(r) for r in duplicated.head(5))}: "
                        f"more than one row for the same {' and '.join(spec.key)}")
    return typed.select("row", *spec.columns), problems


def _cross_checks(tables: dict[str, pl.DataFrame]) -> list[str]:
    """Rules across rows: what the calculations need to find, and wage periods that neither overlap nor leave
    gaps."""
    problems = []
    low_high = tables["wellbeing_proxies"].filter(pl.col("value_high_gbp") < pl.col("value_low_gbp"))["row"]
    if low_high.len():
        problems.append(f"data/reference/wellbeing_proxies.csv row {', '.join(map(str, low_high.head(5)))}: "
                        "value_high_gbp is below value_low_gbp")
    wanted = {
        "unit_costs": ("item", REFERENCE["unit_costs"].fields[0].codes),
        "wages": ("wage", WAGES),
    }
    for name, (column, codes) in wanted.items():
        absent = sorted(set(codes) - set(tables[name][column].drop_nulls().to_list()))
        if absent:
            problems.append(f"data/reference/{name}.csv: no row for {column} {', '.join(absent)}")
    pairs = {
        "wellbeing_proxies": ("measure", "basis"),
        "sroi_adjustments": ("component", "adjustment"),
    }
    for name, (a, b) in pairs.items():
        spec = REFERENCE[name]
        codes_a = next(f.codes for f in spec.fields if f.name == a)
        codes_b = next(f.codes for f in spec.fields if f.name == b)
        have = set(tables[name].select(a, b).iter_rows())
        absent = [f"{x} {y}" for x in codes_a for y in codes_b if (x, y) not in have]
        if absent:
            problems.append(f"data/reference/{name}.csv: no row for {', '.join(absent[:6])}"
                            f"{' …' if len(absent) > 6 else ''}")
    wages = tables["wages"].sort("wage", "valid_from").with_columns(
        pl.col("valid_from").shift(-1).over("wage").alias("next_from"))
    broken = wages.filter(pl.col("next_from").is_not_null()
                          & (pl.col("valid_to").is_null() | (pl.col("valid_to") + pl.duration(days=1) != pl.col("next_from"))))
    if broken.height:
        problems.append("data/reference/wages.csv row " + ", ".join(map(str, broken["row"].head(5)))
                        + ": a rate must end the day before the next rate of the same wage starts")
    ends = wages.filter(pl.col("valid_to").is_not_null() & (pl.col("valid_to") < pl.col("valid_from")))
    if ends.height:
        problems.append("data/reference/wages.csv row " + ", ".join(map(str, ends["row"].head(5)))
                        + ": valid_to is before valid_from")
    return problems


@dataclass(frozen=True)
class ReferenceData:
    tables: dict[str, pl.DataFrame]  # name -> typed rows (column `row`: the file's data row number)
    sha256: dict[str, str]  # file name -> sha256 of its bytes


def load_reference(folder: Path) -> ReferenceData:
    """Read and check every reference file in `folder`; ReferenceDataError listing every problem found."""
    tables, digests, problems = {}, {}, []
    for spec in REFERENCE_FILES:
        path = folder / spec.filename
        shown = _display(path)
        if not path.is_file():
            problems.append(f"{shown} is missing")
            continue
        data = path.read_bytes()
        digests[spec.filename] = hashlib.sha256(data).hexdigest()
        try:
            raw = pl.read_csv(data, infer_schema=False, encoding="utf8")
        except Exception as error:  # not a CSV at all
            problems.append(f"{shown}: not a readable CSV file ({type(error).__name__})")
            continue
        typed, found = _typed(spec, raw, shown)
        problems.extend(found)
        tables[spec.name] = typed
    if not problems:
        problems = _cross_checks(tables)
    if problems:
        raise ReferenceDataError("reference data refused:\n  - " + "\n  - ".join(problems))
    return ReferenceData(tables, digests)
