import datetime as dt

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from speval.quarters import add_months, previous_quarter, quarter_end, quarter_of, quarter_start


def test_quarter_bounds():
    assert quarter_start("2013Q4") == dt.date(2013, 10, 1)
    assert quarter_end("2013Q4") == dt.date(2013, 12, 31)
    assert quarter_end("2012Q1") == dt.date(2012, 3, 31)
    assert quarter_end("2014Q2") == dt.date(2014, 6, 30)
    assert quarter_of(dt.date(2013, 9, 30)) == "2013Q3"
    assert previous_quarter("2014Q1") == "2013Q4"


def test_add_months_clamps_to_month_end():
    assert add_months(dt.date(2013, 1, 31), 1) == dt.date(2013, 2, 28)
    assert add_months(dt.date(2012, 1, 31), 1) == dt.date(2012, 2, 29)  # leap year
    assert add_months(dt.date(2012, 2, 29), 12) == dt.date(2013, 2, 28)
    assert add_months(dt.date(2013, 8, 31), -6) == dt.date(2013, 2, 28)
    assert add_months(dt.date(2013, 3, 30), -1) == dt.date(2013, 2, 28)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)), st.sampled_from([-12, -6, 6, 12]))
def test_sql_month_arithmetic_agrees_with_python(day, months):
    """The SQL windows (DuckDB interval arithmetic) and the Python rule give the same dates."""
    with duckdb.connect() as con:
        sql_day = con.execute("SELECT CAST(? + to_months(?) AS DATE)", [day, months]).fetchall()[0][0]
    assert sql_day == add_months(day, months)
