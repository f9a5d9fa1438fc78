"""Economics: the reference data (unit costs, price index, programme costs, wages, proxies, adjustments), costs
avoided and value for money on the naive and matched basis, and the social return (docs/contract/rules.md
"Economic and social value", ADR 0019)."""
from __future__ import annotations

import dagster as dg

from assets.partitions import evaluation_partitions
from assets.resources import WAREHOUSE_POOL, Warehouse
from assets.sql_table import sql_table_asset
from assets.versions import code_version
from speval.economics.reference import REFERENCE_FILES
from speval.economics.value import ITEMS
from speval.warehouse import one, replace_table

REFERENCE_KEYS = [dg.AssetKey(["reference", r.name]) for r in REFERENCE_FILES]
FILES_KEY = dg.AssetKey(["reference", "files"])
REFERENCE_CODE_VERSION = code_version("assets.economics", "speval.economics.reference")
VALUE_CODE_VERSION = code_version("assets.economics", "speval.economics.value", "speval.economics.scenarios")


@dg.multi_asset(pool=WAREHOUSE_POOL, partitions_def=evaluation_partitions, specs=[
    *(dg.AssetSpec(["reference", r.name], group_name="economics", kinds={"duckdb", "csv"},
                   code_version=REFERENCE_CODE_VERSION,
                   description=f"data/reference/{r.filename}: {r.description}") for r in REFERENCE_FILES),
    dg.AssetSpec(FILES_KEY, group_name="economics", kinds={"duckdb"}, code_version=REFERENCE_CODE_VERSION,
                 description="Each reference file with its sha256 and rows by status (published, derived, "
                 "illustrative), for the run manifest and the report's sources table."),
])
def reference_data(warehouse: Warehouse):
    """Read the committed reference files and refuse the run, naming file, row and rule, if one breaks a rule."""
    import polars as pl

    from speval.economics.reference import ReferenceDataError, load_reference
    from speval.package_data import data_folder

    try:
        reference = load_reference(data_folder("reference"))
    except ReferenceDataError as error:
        raise dg.Failure(description=str(error)) from None
    files = pl.DataFrame([
        {"file": f"data/reference/{r.filename}", "sha256": reference.sha256[r.filename],
         "rows": reference.tables[r.name].height,
         **{s: reference.tables[r.name].filter(pl.col("status") == s).height
            for s in ("published", "derived", "illustrative")}}
        for r in REFERENCE_FILES])
    with warehouse.connect() as con:
        for r in REFERENCE_FILES:
            replace_table(con, f"reference.{r.name}", reference.tables[r.name])
        replace_table(con, "reference.files", files)
    for r, key in zip(REFERENCE_FILES, REFERENCE_KEYS):
        yield dg.MaterializeResult(asset_key=key, metadata={
            "dagster/row_count": reference.tables[r.name].height,
            "sha256": reference.sha256[r.filename]})
    yield dg.MaterializeResult(asset_key=FILES_KEY, metadata={"dagster/row_count": files.height})


def _reference_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["reference", name]), name="meets_expectations", blocking=True)
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        """The loaded table meets its Great Expectations suite (columns, blanks, codes, ranges, keys)."""
        from speval.validate.expectations import reference_suite, run_suite

        with warehouse.connect() as con:
            frame = con.sql(f"SELECT * EXCLUDE (row) FROM reference.{name}").df()
        failed = run_suite(f"reference_{name}", frame, reference_suite(name))
        return dg.AssetCheckResult(passed=not failed, metadata={"failed": dg.MetadataValue.json(failed)})

    return _check


ECONOMICS_TABLES = ("analysis.unit_costs", "analysis.programme_cost", "analysis.referred_to_date",
                    "analysis.wellbeing_progress", "analysis.provider_shares", "analysis.volunteering",
                    "analysis.welfare_awards", "analysis.leverage", "analysis.sroi")
economics_sql_assets = [sql_table_asset(name, "economics") for name in ECONOMICS_TABLES]


@dg.asset_check(asset=dg.AssetKey(["analysis", "unit_costs"]), name="every_item_costed", blocking=True)
def every_item_costed(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every costed item has a unit cost at the price year (the price index covers its cost year)."""
    with warehouse.connect() as con:
        missing = con.execute("SELECT item, cost_year FROM analysis.unit_costs WHERE unit_cost_gbp IS NULL").fetchall()
        n = one(con, "SELECT count(*) FROM analysis.unit_costs")[0]
    return dg.AssetCheckResult(passed=not missing and n == len(ITEMS), metadata={
        "not_costed": dg.MetadataValue.json([f"{item} ({year}: not in price_index.csv)" for item, year in missing])})


@dg.asset_check(asset=dg.AssetKey(["analysis", "volunteering"]), name="every_month_has_wages", blocking=True)
def every_month_has_wages(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every month with volunteering hours has both wages in data/reference/wages.csv."""
    with warehouse.connect() as con:
        months = con.execute("SELECT DISTINCT strftime(month, '%Y-%m') FROM analysis.volunteering "
                             "WHERE low_hourly_gbp IS NULL OR high_hourly_gbp IS NULL ORDER BY 1").fetchall()
    return dg.AssetCheckResult(passed=not months,
                               metadata={"months_without_wages": dg.MetadataValue.json([m for m, in months])})


@dg.multi_asset(
    pool=WAREHOUSE_POOL,
    partitions_def=evaluation_partitions,
    specs=[
        dg.AssetSpec(["analysis", "costs_avoided"], group_name="economics", kinds={"duckdb", "python"},
                     code_version=VALUE_CODE_VERSION,
                     deps=[dg.AssetKey(["analysis", "hospital_use"]), dg.AssetKey(["analysis", "matched_effects"]),
                           dg.AssetKey(["analysis", "effect_replicates"]), dg.AssetKey(["analysis", "unit_costs"])],
                     description="Hospital events avoided per patient and their cost at the price year, on the "
                     "naive and the matched basis (12-month cohort), matched with 95% intervals."),
        dg.AssetSpec(["analysis", "value_for_money"], group_name="economics", kinds={"duckdb", "python"},
                     code_version=VALUE_CODE_VERSION,
                     deps=[dg.AssetKey(["analysis", "programme_cost"]), dg.AssetKey(["analysis", "referred_to_date"])],
                     description="Return on investment to date and over five years with drop-off, payback, and "
                     "on the matched basis the ROI's 95% interval and probability of ROI ≥ 1."),
        dg.AssetSpec(["analysis", "value_inputs"], group_name="economics", kinds={"duckdb", "python"},
                     code_version=VALUE_CODE_VERSION,
                     description="Per basis, what the scenarios start from: saving per patient, people referred, "
                     "annual benefit, costs and the price year."),
    ],
)
def costs_and_value(warehouse: Warehouse):
    """Cost the naive change and the matched DiD (and its bootstrap replicates), then the ROI scenarios."""
    from speval.economics.value import COSTED_COHORT, costs_avoided, value_for_money, value_inputs
    from speval.analysis.comparison import PRIMARY

    with warehouse.connect() as con:
        naive = dict(con.execute("SELECT measure, change FROM analysis.hospital_use WHERE cohort = ? AND \"group\" = 'all' "
                                 "AND n_patients > 0", [COSTED_COHORT]).fetchall()) or None
        matched = dict(con.execute("SELECT measure, did FROM analysis.matched_effects WHERE setting = ? AND cohort = ? "
                                   "AND did IS NOT NULL", [PRIMARY, COSTED_COHORT]).fetchall()) or None
        reps = con.sql(f"SELECT measure, did FROM analysis.effect_replicates WHERE cohort = '{COSTED_COHORT}' "
                       "ORDER BY measure, replicate").pl()
        replicates = {m: frame["did"].to_numpy() for (m,), frame in reps.group_by("measure")} or None
        unit_costs = dict(con.execute("SELECT item, unit_cost_gbp FROM analysis.unit_costs").fetchall())
        referred_to_date, referred_last_year = one(con, "SELECT * FROM analysis.referred_to_date")
        cost_to_date, annual_cost = one(con, "SELECT cost_to_date_gbp, annual_cost_gbp FROM analysis.programme_cost")
        price_year = one(con, "SELECT any_value(price_year) FROM analysis.unit_costs")[0]
        costs, totals = costs_avoided(naive, matched, replicates, unit_costs)
        value = value_for_money(totals, referred_to_date, referred_last_year, cost_to_date, annual_cost)
        inputs = value_inputs(totals, referred_to_date, referred_last_year, cost_to_date, annual_cost, price_year)
        replace_table(con, "analysis.costs_avoided", costs)
        replace_table(con, "analysis.value_for_money", value)
        replace_table(con, "analysis.value_inputs", inputs)
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "costs_avoided"]),
                               metadata={"dagster/row_count": costs.height})
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "value_for_money"]),
                               metadata={"dagster/row_count": value.height})
    yield dg.MaterializeResult(asset_key=dg.AssetKey(["analysis", "value_inputs"]),
                               metadata={"dagster/row_count": inputs.height})


economics_assets = [reference_data, *economics_sql_assets, costs_and_value]
economics_checks = [*(_reference_check(r.name) for r in REFERENCE_FILES), every_item_costed, every_month_has_wages]
