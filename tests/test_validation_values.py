"""Row values that used to crash validation or be misread (ADR 0004): each is now quarantined with its
reason, or read as written. Unit level: a tiny raw table, `typed_expression` and `validate_file_type`."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from builders import DEFAULTS
from speval.ingest.contract import PERSONS, PROVIDER_FUNDING, PROVIDER_VOLUNTEERING, PROVIDER_WELFARE, SPECS, Column
from speval.ingest.files import empty_raw_frame, load_raw, read_workbook_sheet
from speval.validate.rules import typed_expression, validate_file_type
from speval.warehouse import connect, replace_table

VALID = {  # one valid row per file type; a test changes one cell
    "persons": {"TOKEN_PERSON_ID": "P1", **DEFAULTS["persons"]},
    "provider_volunteering": {"MONTH": "2013-10-01 00:00:00", "VOLUNTEERS": "3", "HOURS": "2.5"},
    "provider_welfare": {"REFERRAL_ID": "R1", "BENEFIT_TYPE": "Pension Credit", "WEEKLY_AMOUNT_GBP": "£5.00"},
    "provider_funding": {"FUNDER": "NHS", "AMOUNT_GBP": "£10.00", "DATE_AWARDED": "01/10/2013"},
}


def typed(kind: str, text: str, workbook: bool = True):
    """The typed value `typed_expression` gives for one delivered cell."""
    con = connect()
    replace_table(con, "raw.t", pl.DataFrame({"V": [text]}, schema={"V": pl.String}))
    return con.execute(f"SELECT {typed_expression(Column('V', kind), workbook)} FROM raw.t").fetchall()[0][0]


def validated(spec, **cells):
    """(outcome, reason, staged row or None) of one raw row of `spec`: a valid row with `cells` changed."""
    con = connect()
    if spec.parent:  # an empty parent: the row's own rules still come first
        load_raw(con, SPECS[spec.parent[1]], [])
        validate_file_type(con, SPECS[spec.parent[1]])
    row = {**VALID[spec.name], **cells}
    frame = pl.DataFrame([{"delivery": "2013Q4", "file": "f", "sha256": "", "row_number": 2, "row_hash": 1,
                           "row_defect": None, **{c: row.get(c) for c in spec.column_names}}],
                         schema=empty_raw_frame(spec).schema)
    replace_table(con, f"raw.{spec.name}", frame)
    validate_file_type(con, spec)
    [(outcome, reason)] = con.execute("SELECT outcome, reason FROM audit.row_outcomes WHERE spec = ?",
                                      [spec.name]).fetchall()
    staged = con.sql(f"SELECT * EXCLUDE (delivery, file, row_number) FROM staged.{spec.name}").pl()
    return outcome, reason, (staged.row(0, named=True) if staged.height else None)


def reason(spec, **cells) -> str | None:
    return validated(spec, **cells)[1]


# ---- 1. money: one sign at most, before or after the £


@pytest.mark.parametrize("text", ["-£-5.00", "£-+5", "+-5", "--5.00", "-£5.00-"])
def test_money_with_two_signs_is_quarantined_not_a_crash(text):
    assert reason(PROVIDER_WELFARE, WEEKLY_AMOUNT_GBP=text) == "WEEKLY_AMOUNT_GBP: not a valid money"


@pytest.mark.parametrize("text,value", [("-£5.00", -5.0), ("£-5.00", -5.0), ("+£1,234.50", 1234.5),
                                        ("£ 12", 12.0), ("7.5", 7.5)])
def test_money_with_one_sign_before_or_after_the_pound_is_read(text, value):
    assert typed("money", text) == value


# ---- 2. whole numbers must fit BIGINT


def test_twenty_digit_integer_in_a_csv_is_quarantined():
    assert reason(PERSONS, LTC_COUNT="12345678901234567890") == "LTC_COUNT: not a valid int"


@pytest.mark.parametrize("text", ["1e20", "100000000000000000000", "100000000000000000000.0"])
def test_huge_whole_number_in_a_workbook_is_quarantined(text):
    # 1e20 typed as text, or the number 1e20 as calamine writes it out.
    assert reason(PROVIDER_VOLUNTEERING, VOLUNTEERS=text) == "VOLUNTEERS: not a valid int"


@pytest.mark.parametrize("workbook", [False, True])
def test_integers_up_to_the_bigint_limits_are_read(workbook):
    assert typed("int", "9223372036854775807", workbook) == 2**63 - 1
    assert typed("int", "-9223372036854775808", workbook) == -(2**63)
    assert typed("int", "9223372036854775808", workbook) is None
    assert typed("int", "5.0", workbook) == (5 if workbook else None)


# ---- 3. non-finite numbers are not numbers


@pytest.mark.parametrize("text", ["1e999", "-1e999", "inf", "-inf", "nan", "NaN", "Infinity"])
def test_non_finite_float_is_quarantined(text):
    assert reason(PROVIDER_VOLUNTEERING, HOURS=text) == "HOURS: not a valid float"
    assert reason(PERSONS, RISK_SCORE=text) == "RISK_SCORE: not a valid float"


@pytest.mark.parametrize("text", ["9" * 400, "£" + "9" * 400, "nan", "inf", "£Infinity"])
def test_non_finite_money_is_quarantined(text):
    assert reason(PROVIDER_FUNDING, AMOUNT_GBP=text) == "AMOUNT_GBP: not a valid money"


def test_large_but_finite_numbers_are_read():
    assert typed("float", "1e308") == 1e308
    assert typed("money", "9" * 300) == float("9" * 300)


# ---- 4. workbook dates: two-digit years are 20yy (00-68) or 19yy (69-99); four-digit formats want four digits


@pytest.mark.parametrize("text,date", [
    ("01/10/13", dt.date(2013, 10, 1)), ("1/10/13", dt.date(2013, 10, 1)), ("01-10-13", dt.date(2013, 10, 1)),
    ("01.10.13", dt.date(2013, 10, 1)), ("31/12/00", dt.date(2000, 12, 31)), ("01/10/68", dt.date(2068, 10, 1)),
    ("01/10/69", dt.date(1969, 10, 1)), ("01/10/99", dt.date(1999, 10, 1)), ("01/10/2013", dt.date(2013, 10, 1)),
    ("01.10.2013", dt.date(2013, 10, 1)), ("01-10-2013", dt.date(2013, 10, 1)),
])
def test_uk_text_dates_with_two_or_four_digit_years(text, date):
    assert typed("date", text) == date


def test_two_digit_year_is_staged_as_20yy():
    outcome, _, row = validated(PROVIDER_FUNDING, DATE_AWARDED="01/10/13")
    assert outcome == "accepted" and row["DATE_AWARDED"] == dt.date(2013, 10, 1)


@pytest.mark.parametrize("text", ["01/10/013", "01/10/0013x", "01/10/20130", "01/10/0000", "01/10/3", "12/31/2013",
                                  "31/02/2013", "01/10-2013"])
def test_other_year_widths_month_first_and_impossible_dates_are_invalid(text):
    assert reason(PROVIDER_FUNDING, DATE_AWARDED=text) == "DATE_AWARDED: not a valid date"


# ---- 5. a date carrying a time is read as its date


@pytest.mark.parametrize("text", ["2013-10-01 14:30:00", "2013-10-01 14:30:05.123", "2013-10-01 00:00:00",
                                  "01/10/2013 14:30", "01/10/2013 9:05", "01/10/2013 14:30:59", "01/10/13 23:59",
                                  "41548.60416"])
def test_workbook_date_with_a_time_is_read_as_its_date(text):
    outcome, _, row = validated(PROVIDER_VOLUNTEERING, MONTH=text)
    assert outcome == "accepted" and row["MONTH"] == dt.date(2013, 10, 1)


@pytest.mark.parametrize("text", ["2013-10-01 24:00:00", "2013-10-01 14:60", "12/31/2013 14:30", "01/10/2013 14",
                                  "01/10/2013 14:30 pm", "01/10/2013T14:30"])
def test_workbook_date_with_a_bad_time_or_month_first_is_invalid(text):
    assert reason(PROVIDER_VOLUNTEERING, MONTH=text) == "MONTH: not a valid date"


def test_csv_dates_stay_iso_without_a_time():
    assert reason(PERSONS, REGISTERED_FROM="2000-01-01 14:30:00") == "REGISTERED_FROM: not a valid date"
    assert reason(PERSONS, REGISTERED_FROM="0000-01-01") == "REGISTERED_FROM: not a valid date"
    assert typed("date", "2000-01-01", workbook=False) == dt.date(2000, 1, 1)


def test_a_real_excel_date_time_cell_is_read_as_its_date(tmp_path):
    import xlsxwriter

    path = tmp_path / "provider_returns" / "2013Q4" / "VCS09.xlsx"
    path.parent.mkdir(parents=True)
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Volunteering")
    stamp = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    sheet.write_row(0, 0, ["MONTH", "VOLUNTEERS", "HOURS"])
    sheet.write_datetime(1, 0, dt.datetime(2013, 10, 1, 14, 30), stamp)
    sheet.write_datetime(2, 0, dt.datetime(2013, 11, 1, 9, 15, 5, 250000), stamp)
    for r in (1, 2):
        sheet.write_number(r, 1, 3)
        sheet.write_number(r, 2, 2.5)
    book.close()
    raw = read_workbook_sheet(path, tmp_path, PROVIDER_VOLUNTEERING, "2013Q4")
    assert raw.frame["MONTH"].to_list() == ["2013-10-01 14:30:00", "2013-11-01 09:15:05.250"]  # calamine's text
    con = connect()
    load_raw(con, PROVIDER_VOLUNTEERING, [raw])
    assert validate_file_type(con, PROVIDER_VOLUNTEERING) == {"accepted": 2, "quarantined": 0, "duplicate": 0}
    months = con.execute("SELECT MONTH FROM staged.provider_volunteering ORDER BY row_number").fetchall()
    assert months == [(dt.date(2013, 10, 1),), (dt.date(2013, 11, 1),)]
