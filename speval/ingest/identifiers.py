"""Refusal of files carrying direct identifiers (docs/decisions/0014-direct-identifiers.md).

A file is refused whole, before anything from it reaches DuckDB, a log or an output, when
- a column is named like a direct identifier (`NHS No.`, `D.O.B.`, `Patient Name`, `Address 2`, ...);
- any cell, header, file name or sheet name *contains* a valid NHS number, however it is written
  (10 digits, or 3-3-4 groups, separated by spaces of any kind, hyphens or dashes, dots; a trailing `.0`);
- any cell contains a full UK postcode.
Pseudonymised keys (`KEY_COLUMNS`) are the one exception: suppliers' tokens such as `Ta1301460664b` may
hold ten digits in a row, so there only a cell that *is* an NHS number or a postcode refuses the file.
Messages name the file, row and column, never the value.
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
        "PATIENT_NAME",
        "FORENAME",
        "FORENAMES",
        "FIRST_NAME",
        "SURNAME",
        "LAST_NAME",
        "ADDRESS",
        "POSTCODE",
        "POST_CODE",
        "DOB",
        "DATE_OF_BIRTH",
    }
)
_ADDRESS_N = r"^ADDRESS_?\d+$"

# The contract's pseudonymised keys, compared as canonical headers (upper case, `_` for spacing).
KEY_COLUMNS = frozenset(
    {"TOKEN_PERSON_ID", "EPIKEY", "AEKEY", "ATTENDKEY", "REFERRAL_ID", "ONWARD_ID", "ASSESSMENT_ID", "ADVISER_ID"}
)

# What may separate the digits of a written NHS number: whitespace of any kind (no-break and thin spaces,
# tabs), hyphens, dashes and minus signs, dots. Up to three in a row (`943 - 476 - 5919`).
SEPARATOR = r"[\s\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d.]"
# Ten ASCII digits bounded by non-digits, with up to three separators between any two: every NHS number
# matches, and so do some other strings (dates with times); `contains_nhs_number` decides.
_CANDIDATE = rf"(?:^|[^0-9])[0-9](?:{SEPARATOR}{{0,3}}[0-9]){{9}}(?:[^0-9]|$)"
_DIGIT_RUN = re.compile(rf"[0-9]+(?:{SEPARATOR}{{1,3}}[0-9]+)*")
_SEPARATOR_RUN = re.compile(rf"({SEPARATOR}{{1,3}})")

# A full UK postcode (outward and inward code, the letters the Royal Mail uses in each place), as a word.
POSTCODE = (
    r"(?i)\b(?:GIR\s*0AA|(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r"\s*[0-9][ABD-HJLNP-UW-Z]{2})\b"
)
_POSTCODE = re.compile(POSTCODE)
#: Either candidate in one pattern, for a single vectorised pass over every column of a file (Polars' engine:
#: POSTCODE's case-insensitive flag stays inside its group).
_CANDIDATE_OR_POSTCODE = rf"(?:{_CANDIDATE})|(?:{POSTCODE})"


class IdentifierError(Exception):
    """A file carries a direct identifier and is refused."""


def identifier_column_name(header: str) -> str:
    """The header as the identifier rule compares it: upper case, punctuation removed, spaces, hyphens and
    underscores as one `_` (`NHS No.` → NHS_NO, `D.O.B.` → DOB, `Forename(s)` → FORENAMES)."""
    name = re.sub(r"[^\w\s\-]", "", str(header).upper())
    return re.sub(r"[\s\-_]+", "_", name).strip("_")


def is_identifier_column(header: str) -> bool:
    name = identifier_column_name(header)
    return name in IDENTIFIER_COLUMNS or bool(re.match(_ADDRESS_N, name))


def identifier_name_mask(column: pl.Expr) -> pl.Expr:
    """Vectorised `is_identifier_column` over a string column of cell values (null → False)."""
    name = (column.cast(pl.String).str.to_uppercase().str.replace_all(r"[^\w\s\-]", "")
            .str.replace_all(r"[\s\-_]+", "_").str.strip_chars("_"))
    return (name.is_in(sorted(IDENTIFIER_COLUMNS)) | name.str.contains(_ADDRESS_N)).fill_null(False)


def valid_nhs_digits(digits: str) -> bool:
    """Ten digits whose last is the modulus-11 check digit of the first nine (remainder giving 10: invalid)."""
    if not re.fullmatch(r"[0-9]{10}", digits):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1))) % 11
    return (0 if check == 11 else check) == int(digits[9])


def is_nhs_number(value: str) -> bool:
    """True when the whole of `value` is one NHS number, however separated."""
    return bool(value) and contains_nhs_number(value) and not re.search(r"[^0-9]", re.sub(SEPARATOR, "", value))


def contains_nhs_number(text: str) -> bool:
    """True when `text` contains a valid NHS number bounded by non-digits: ten digits written as one block,
    as 3-3-4 groups with any separators, or in three or more groups split by one and the same separator
    (`943 476 5919`, `943–476–5919`, `943.476.5919`, `9434765919.0`). Ten digits in two groups are a decimal
    (`0.001953125`) or a range, the ten digits after a decimal point are its fraction (`3070133.8956482136`, a
    sum of money printed in full), and mixed separators in other groupings a date with a time
    (`2013-10-01 00:00`): none of them is taken for an NHS number."""
    for run in _DIGIT_RUN.finditer(text):
        parts = _SEPARATOR_RUN.split(run.group())
        groups, separators = parts[0::2], parts[1::2]
        # A whole number and its fraction (one dot): the fraction is no block of its own, the whole part may be one.
        starts = 1 if separators == ["."] else len(groups)
        for first in range(starts):
            digits = 0
            for last in range(first, len(groups)):
                digits += len(groups[last])
                if digits > 10:
                    break
                if digits == 10:
                    between = separators[first:last]
                    shape = [len(g) for g in groups[first:last + 1]]
                    written = shape == [10] or shape == [3, 3, 4] or (len(shape) > 2 and len(set(between)) == 1)
                    if written and valid_nhs_digits(
                            "".join(groups[first:last + 1])):
                        return True
    return False


def contains_postcode(text: str) -> bool:
    return bool(_POSTCODE.search(text))


def identifier_in_text(text: str) -> str | None:
    """What direct identifier `text` contains ("a valid NHS number", "a full UK postcode"), or None."""
    if contains_nhs_number(text):
        return "a valid NHS number"
    if contains_postcode(text):
        return "a full UK postcode"
    return None


def identifier_in_key(text: str) -> str | None:
    """What direct identifier a pseudonymised key *is* (the whole cell), or None."""
    if is_nhs_number(text.strip()):
        return "a valid NHS number"
    if _POSTCODE.fullmatch(text.strip()):
        return "a full UK postcode"
    return None


def first_identifier(values: pl.Series, key: bool = False) -> tuple[int, str] | None:
    """(index, what) of the first value holding an NHS number or a postcode (for a key column: being one). A
    fast vectorised filter picks the few candidate values; only those are checked one by one."""
    text = values.cast(pl.String)
    candidates = (text.str.contains(_CANDIDATE) | text.str.contains(POSTCODE)).fill_null(False)
    check = identifier_in_key if key else identifier_in_text
    for i in candidates.arg_true():
        what = check(text[int(i)])
        if what:
            return int(i), what
    return None


def first_identifiers(frame: pl.DataFrame, key_columns: frozenset[str] = frozenset()) -> dict[str, tuple[int, str]]:
    """Column -> (index, what) of its first value holding an NHS number or a postcode (in `key_columns`: being
    one), for each column that has one, in column order. One vectorised pass over the whole frame finds the
    columns with candidate values (the same candidates as `first_identifier`'s); only those are checked further,
    so a file's many clean columns cost one scan, not a scan each."""
    flagged = frame.select(pl.all().cast(pl.String).str.contains(_CANDIDATE_OR_POSTCODE).fill_null(False).any())
    found = {}
    for column in frame.columns:
        if flagged.get_column(column)[0]:
            hit = first_identifier(frame.get_column(column), key=column in key_columns)
            if hit:
                found[column] = hit
    return found


def refuse_identifiers(frame: pl.DataFrame, file: str, row_numbers: pl.Series,
                       key_columns: frozenset[str] = frozenset()) -> None:
    """Raise IdentifierError naming the file and the first offending column or cell.

    `frame` holds the file's cells as strings with its original headers; `row_numbers` gives each
    row's number as a spreadsheet shows it; `key_columns` are the frame's columns holding pseudonymised keys.
    """
    hits = first_identifiers(frame, key_columns)
    if hits:
        header, (index, what) = next(iter(hits.items()))
        raise IdentifierError(
            f"{file}: refused — row {row_numbers[index]}, column {header!r} holds {what} "
            f"(files carrying direct identifiers are refused; value not shown)"
        )


def key_columns_of(headers: list) -> frozenset[str]:
    """The headers naming one of the contract's pseudonymised keys (in any case or spacing)."""
    canonical = {h: re.sub(r"[^A-Z0-9]+", "_", str(h).strip().upper()).strip("_") for h in headers if h is not None}
    return frozenset(h for h, c in canonical.items() if c in KEY_COLUMNS)


def refuse_identifier_headers(headers: list[str], file: str) -> None:
    """Refuse a header that names a direct identifier or holds one (then it is named by position only)."""
    for position, header in enumerate(headers, start=1):
        if header is None:
            continue
        what = identifier_in_text(str(header))
        if what:
            raise IdentifierError(f"{file}: refused — the header of column {position} holds {what} (value not shown)")
        if is_identifier_column(header):
            raise IdentifierError(
                f"{file}: refused — column {header!r} is a direct identifier "
                f"(files carrying direct identifiers are refused)"
            )


def safe_name(name: str) -> str:
    """A file or sheet name fit for a message or a table: itself, or a placeholder when it holds an identifier."""
    what = identifier_in_text(name)
    return f"<name withheld: it holds {what}>" if what else name
