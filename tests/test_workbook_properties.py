"""Property-based tests of provider workbooks as hand-filled returns arrive: sheet names in any case and
punctuation (and look-alikes), headers repeated, Excel error cells, dates with times, title and blank rows.
Each sheet is either refused whole with a message naming the file and rule (and none of its cells), or
read so that every non-blank row below the header is a row and reconciles after validation
(read = accepted + quarantined + duplicates), an error cell quarantining its row."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import BLANK_ROW, PROVIDER_HEADERS, DataSet, ExcelError, ProviderWorkbook
from speval.ingest.contract import PROVIDER_SHEETS, SPECS
from speval.ingest.files import FileRefused, load_raw, read_workbook_sheet
from speval.validate.rules import validate_file_type
from speval.warehouse import connect, replace_table

QUARTER = "2013Q4"
MARKER = "ZZ_CELL_MARKER"  # a cell value that must never appear in a refusal message

CELLS = st.one_of(
    st.none(),
    st.sampled_from(["R_P01", "S01", "Ongoing", "Completed", "01/10/2013", "01/10/13", "Total", "£12.50", "-£-5",
                     "1e999", "12/31/2013", " ", MARKER, "N", "Y", "2013-10-01 14:30:00"]),
    st.integers(-5, 50),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.dates(min_value=dt.date(2011, 1, 1), max_value=dt.date(2014, 12, 31)),
    st.datetimes(min_value=dt.datetime(2011, 1, 1), max_value=dt.datetime(2014, 12, 31)),
    st.sampled_from([ExcelError("#DIV/0!"), ExcelError("#REF!")]),
)


def sheet_name_variant(name: str):
    """How a template's sheet name drifts by hand: case, spaces, a trailing full stop."""
    return st.sampled_from([name, name.upper(), name.lower(), f" {name}", f"{name}.", f"{name.upper()}."])


@st.composite
def workbooks(draw):
    """(sheet definitions, expectations) for one workbook of Activity/Volunteering/Welfare/Funding sheets."""
    sheets, look_alike = {}, False
    for contract_name in ("Activity", "Volunteering", "Welfare", "Funding"):
        header = list(PROVIDER_HEADERS[contract_name])
        header = [draw(st.sampled_from([h, h.lower(), h.title().replace("_", " "), f" {h} "])) for h in header]
        repeated = draw(st.integers(0, 9)) == 0
        if repeated:  # a header typed twice, in another case
            header.append(header[draw(st.integers(0, len(header) - 1))].lower())
        rows = draw(st.lists(st.one_of(st.just(BLANK_ROW), st.lists(CELLS, min_size=len(header), max_size=len(header))),
                             max_size=8))
        name = draw(sheet_name_variant(contract_name))
        sheets[name] = (contract_name, header, rows, repeated)
        if draw(st.integers(0, 14)) == 0:  # a second sheet that reads as the same one
            taken = {n.lower() for n in sheets}  # Excel's sheet names are unique whatever their case
            other = draw(sheet_name_variant(contract_name).filter(lambda n: n.lower() not in taken))
            sheets[other] = (contract_name, header, rows, repeated)
            look_alike = True
    return sheets, look_alike


def is_blank(row) -> bool:
    return row is BLANK_ROW or all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workbooks())
def test_every_workbook_sheet_is_refused_cleanly_or_reconciles(tmp_path_factory, book_spec):
    sheets, look_alike = book_spec
    root = tmp_path_factory.mktemp("wb") / "data"
    ds = DataSet(root)
    ds.person("P01")
    ds.referral("P01", "2013-03-15", REFERRAL_ID="R_P01")
    ds.write()
    book = ProviderWorkbook(root, "VCS01")
    numbers = {name: book.sheet(name, header, rows) for name, (_, header, rows, _) in sheets.items()}
    # No default sheets besides Cover: each contract sheet was given above, under its drawn name.
    book.write(omit=tuple(n for n in ("Activity", "Volunteering", "Welfare", "Funding") if n not in sheets))

    con = connect()
    replace_table(con, "analysis.parameters", pl.DataFrame({"coverage_start": [dt.date(2011, 4, 1)],
                                                            "cutoff": [dt.date(2013, 12, 31)]}))
    con.execute("CREATE TABLE staged.referrals AS SELECT 'R_P01' AS REFERRAL_ID, DATE '2013-03-15' AS REFERRAL_DATE")
    for spec in PROVIDER_SHEETS[1:]:
        matching = [n for n, (c, *_) in sheets.items() if c == spec.filename]
        try:
            raw = read_workbook_sheet(book.path, root, spec, QUARTER)
        except FileRefused as refused:
            message = str(refused)
            assert message.startswith(f"provider_returns/{QUARTER}/VCS01.xlsx"), message
            assert MARKER not in message
            repeated = any(sheets[n][3] for n in matching)
            assert look_alike or repeated, message
            assert ("all read as" in message) if look_alike else ("appears more than once" in message), message
            continue
        assert not look_alike
        name = matching[0]
        _, header, rows, repeated = sheets[name]
        assert not repeated
        expected = [n for n, r in zip(numbers[name], rows) if not is_blank(r)]
        assert raw.frame["row_number"].to_list() == expected
        errors = {n for n, r in zip(numbers[name], rows) if r is not BLANK_ROW and any(isinstance(v, ExcelError) for v in r)}
        flagged = raw.frame.filter(pl.col("row_defect").str.starts_with("Excel error"))["row_number"].to_list()
        totals = set(raw.frame.filter(pl.col("row_defect") == "total row")["row_number"].to_list())
        assert set(flagged) == errors - totals

        load_raw(con, spec, [raw])
        counts = validate_file_type(con, SPECS[spec.name])
        assert sum(counts.values()) == raw.rows_read
        set_aside = set(con.execute("SELECT row_number FROM audit.row_outcomes WHERE spec = ? AND "
                                    "outcome IN ('quarantined', 'duplicate')", [spec.name]).fetchall())
        assert {(n,) for n in errors} <= set_aside  # an error cell never passes for a blank (a copy is a duplicate)
    con.close()
