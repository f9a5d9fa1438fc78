import datetime as dt

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from speval.run.quarters import Quarter, add_months


def test_quarter_bounds():
    q = Quarter.parse("2013Q4")
    assert (q.first_day, q.last_day, q.key, str(q)) == (dt.date(2013, 10, 1), dt.date(2013, 12, 31), "2013Q4", "2013Q4")
    assert Quarter.parse("2012Q1").last_day == dt.date(2012, 3, 31)
    assert Quarter.parse("2014Q2").last_day == dt.date(2014, 6, 30)
    assert Quarter.of(dt.date(2013, 9, 30)) == Quarter(2013, 3)
    assert Quarter.parse("2014Q1").previous == Quarter.parse("2013Q4")
    assert Quarter.parse("2014Q1").shift(-3) == Quarter.parse("2013Q2")
    assert Quarter.parse("2013Q4").words == "October to December 2013"
    assert Quarter.parse("2013Q4") < Quarter.parse("2014Q1")


@pytest.mark.parametrize("text", ["2014-Q4", "2014Q5", "2014Q0", "14Q4", "2014q4", "", " 2014Q4"])
def test_malformed_quarters_are_refused(text):
    with pytest.raises(ValueError, match="not a quarter"):
        Quarter.parse(text)


def test_add_months_clamps_to_month_end():
    assert add_months(dt.date(2013, 1, 31), 1) == dt.date(2013, 2, 28)
    assert add_months(dt.date(2012, 1, 31), 1) == dt.date(2012, 2, 29)  # leap year
    assert add_months(dt.date(2012, 2, 29), 12) == dt.date(2013, 2, 28)
    assert add_months(dt.date(2013, 8, 31), -6) == dt.date(2013, 2, 28)
    assert add_months(dt.date(2013, 3, 30), -1) == dt.date(2013, 2, 28)


@pytest.fixture(scope="module")
def con():
    """One in-memory DuckDB for all the examples: opening one costs more than the query."""
    with duckdb.connect() as con:
        yield con


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)), st.sampled_from([-12, -6, 6, 12]))
def test_sql_month_arithmetic_agrees_with_python(con, day, months):
    """The SQL windows (DuckDB interval arithmetic) and the Python rule give the same dates."""
    sql_day = con.execute("SELECT CAST(? + to_months(?) AS DATE)", [day, months]).fetchall()[0][0]
    assert sql_day == add_months(day, months)
