"""Refusal of files carrying direct identifiers (CONTRACT.md §2).

A file is refused whole — before anything from it reaches DuckDB, a log or an output — when a column
name is a direct identifier or any cell is a valid NHS number. Error messages name the file, the
column and the row, never the value.
"""
from __future__ import annotations

import re

import polars as pl

IDENTIFIER_COLUMNS = frozenset(
    {
        "NHS_NUMBER",
        "NHSNUMBER",
        "NHS_NO",
        "NAME",
        "FULL_NAME",
        "FORENAME",
        "FORENAMES",
        "FIRST_NAME",
        "SURNAME",
        "LAST_NAME",
        "ADDRESS",
        "POSTCODE",
        "DOB",
        "DATE_OF_BIRTH",
    }
)
_ADDRESS_N = re.compile(r"^ADDRESS_?\d+$")


class IdentifierError(Exception):
    """A file carries a direct identifier and is refused."""


def identifier_column_name(header: str) -> str:
    """The header as the identifier rule compares it: upper-cased, spaces and hyphens as `_`."""
    return re.sub(r"[ \-]", "_", header.strip().upper())


def is_identifier_column(header: str) -> bool:
    name = identifier_column_name(header)
    return name in IDENTIFIER_COLUMNS or bool(_ADDRESS_N.match(name))


def identifier_name_mask(column: pl.Expr) -> pl.Expr:
    """Vectorised `is_identifier_column` over a string column of cell values (null → False)."""
    name = column.cast(pl.String).str.strip_chars().str.to_uppercase().str.replace_all(r"[ \-]", "_")
    return (name.is_in(sorted(IDENTIFIER_COLUMNS)) | name.str.contains(r"^ADDRESS_?\d+$")).fill_null(False)


def is_nhs_number(value: str) -> bool:
    """True when `value`, without spaces and hyphens, is 10 digits with a valid modulus-11 check digit."""
    digits = re.sub(r"[ \-]", "", value)
    if not re.fullmatch(r"\d{10}", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def nhs_number_mask(column: pl.Expr) -> pl.Expr:
    """Vectorised `is_nhs_number` over a string column (null → False)."""
    digits = column.cast(pl.String).str.replace_all(r"[ \-]", "")
    weighted = pl.sum_horizontal(
        digits.str.slice(i, 1).cast(pl.Int64, strict=False) * (10 - i) for i in range(9)
    )
    check = 11 - weighted % 11
    check = pl.when(check == 11).then(0).otherwise(check)
    last = digits.str.slice(9, 1).cast(pl.Int64, strict=False)
    return (digits.str.contains(r"^\d{10}$") & (check != 10) & (check == last)).fill_null(False)


def refuse_identifiers(frame: pl.DataFrame, file: str, row_numbers: pl.Series) -> None:
    """Raise IdentifierError naming the file and the first offending column or cell.

    `frame` holds the file's cells as strings with its original headers; `row_numbers` gives each
    row's number as a spreadsheet shows it.
    """
    for header in frame.columns:
        if is_identifier_column(header):
            raise IdentifierError(
                f"{file}: refused — column {header!r} is a direct identifier "
                f"(CONTRACT.md §2: files carrying direct identifiers are refused)"
            )
    for header in frame.columns:
        hits = frame.select(nhs_number_mask(pl.col(header)).arg_true()).to_series()
        if hits.len():
            row = row_numbers[int(hits[0])]
            raise IdentifierError(
                f"{file}: refused — row {row}, column {header!r} holds a valid NHS number "
                f"(CONTRACT.md §2: files carrying direct identifiers are refused; value not shown)"
            )
