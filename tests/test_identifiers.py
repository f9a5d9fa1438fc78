"""Direct identifiers (ADR 0014): NHS numbers however written and wherever embedded, postcodes, identifier
column names; pseudonymised keys; file and sheet names."""
import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from speval.ingest.identifiers import (IdentifierError, contains_nhs_number, contains_postcode, first_identifier,
                                first_identifiers,
                                identifier_in_text, identifier_name_mask, is_identifier_column, is_nhs_number, refuse_identifier_headers,
                                refuse_identifiers, safe_name, valid_nhs_digits)

VALID = "9434765919"  # modulus-11 check digit 9

# Every way of separating digits the contract names: spaces of any kind, hyphens and dashes, dots.
SEPARATORS = [" ", "\u00a0", "\u202f", "\u2009", "\t", "-", "\u2010", "\u2011", "\u2013", "\u2014", "\u2212", ".",
              " - ", " \u2013 ", "  "]


def check_digit(stem: str) -> int | None:
    check = 11 - sum(int(d) * w for d, w in zip(stem, range(10, 1, -1))) % 11
    return None if check == 10 else (0 if check == 11 else check)


@st.composite
def nhs_numbers(draw, valid: bool = True):
    stem = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
    check = check_digit(stem)
    if valid:
        from hypothesis import assume
        assume(check is not None)
        return stem + str(check)
    wrong = [d for d in range(10) if d != check]
    return stem + str(draw(st.sampled_from(wrong)))


@st.composite
def written(draw, digits: str):
    """`digits` as a person might type or paste it: one block or 3-3-4 groups, any separators, maybe `.0`."""
    if draw(st.booleans()):
        text = digits
    else:
        sep = draw(st.sampled_from(SEPARATORS))
        mixed = draw(st.sampled_from(SEPARATORS))
        text = f"{digits[:3]}{sep}{digits[3:6]}{mixed}{digits[6:]}"
    return text + draw(st.sampled_from(["", ".0", "\t", " "]))


# Text around an embedded number: anything that does not put a digit next to it.
SURROUND = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="0123456789"),
                   max_size=12)


@given(nhs_numbers(), st.data(), SURROUND, SURROUND)
def test_a_valid_nhs_number_is_found_however_written_and_wherever_embedded(digits, data, before, after):
    text = before + data.draw(written(digits)) + after
    assert contains_nhs_number(text)
    assert identifier_in_text(text) == "a valid NHS number"
    frame = pl.DataFrame({"TOKEN_PERSON_ID": ["T1", "T2"], "NOTE": ["fine", text]})
    with pytest.raises(IdentifierError) as refused:
        refuse_identifiers(frame, "outcome_tool/2013Q4/referrals.csv", pl.Series([2, 3]))
    assert "row 3" in str(refused.value) and "'NOTE'" in str(refused.value)
    assert digits not in str(refused.value).replace(" ", "")


@given(nhs_numbers(valid=False), st.data(), SURROUND, SURROUND)
def test_a_wrong_check_digit_is_not_an_nhs_number(digits, data, before, after):
    text = before + data.draw(written(digits)) + after
    assert not contains_nhs_number(text)


@given(nhs_numbers(), st.sampled_from("0123456789"), st.booleans())
def test_ten_digits_inside_a_longer_number_are_not_an_nhs_number(digits, extra, at_end):
    """Eleven digits in a row hold no ten bounded by non-digits (an 11-digit phone number, a 12-digit key)."""
    assert not contains_nhs_number(f"Tel {digits + extra if at_end else extra + digits}.")


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(1, 9), st.data())
def test_decimals_and_ranges_are_not_nhs_numbers(number, left, data):
    """Ten digits around one dot or hyphen are a decimal or a range (a risk score `12.34567891`)."""
    assert not contains_nhs_number(repr(number)) and not contains_nhs_number(str(number))
    a = data.draw(st.text(alphabet="0123456789", min_size=left, max_size=left))
    b = data.draw(st.text(alphabet="0123456789", min_size=10 - left, max_size=10 - left))
    assert not contains_nhs_number(f"{a}.{b}") and not contains_nhs_number(f"-{a}-{b} ")


@given(nhs_numbers(), st.integers(0, 10**9), st.sampled_from(["", "-", " "]))
def test_the_fraction_of_a_decimal_is_not_an_nhs_number(digits, whole, sign):
    """Ten digits after a decimal point are its fraction (a sum of money printed in full, `3070133.8956482136`);
    the whole part can still be one, as a number-formatted cell writes it (`9434765919.0`)."""
    assert not contains_nhs_number(f"{sign}{whole}.{digits}")
    assert contains_nhs_number(f"{digits}.{whole % 10}")


def test_no_float_printed_in_full_is_taken_for_an_nhs_number():
    """Python and Polars print a float's shortest round-trip digits: for sums between £100,000 and £10M that is
    often ten after the point, and one such fraction in 11 carries a valid check digit (2.7% of these floats were
    flagged before fractions were excluded)."""
    numbers = np.random.default_rng(7).uniform(1e5, 1e7, 50_000)
    assert not any(contains_nhs_number(repr(float(x))) for x in numbers)
    assert first_identifier(pl.Series(numbers)) is None


@given(st.dates(), st.times())
def test_dates_with_times_are_not_nhs_numbers(day, time):
    for text in (f"{day.isoformat()} {time.isoformat()}", f"{day:%d/%m/%Y} {time:%H:%M}",
                 f"{day:%d.%m.%Y} {time:%H.%M}", f"{day:%Y-%m-%d} {time:%H}"):
        assert not contains_nhs_number(text), text


@given(st.lists(st.one_of(st.text(alphabet="0123456789 -.\u00a0\u2013AS6U2D", max_size=16),
                          nhs_numbers().map(lambda d: f"x{d[:3]} {d[3:6]} {d[6:]}")), min_size=1, max_size=30))
def test_the_vectorised_scan_agrees_with_the_scalar_rule(values):
    hits = [i for i, v in enumerate(values) if identifier_in_text(v)]
    found = first_identifier(pl.Series(values))
    assert (found[0] if found else None) == (hits[0] if hits else None)


CELLS = st.one_of(st.none(), st.text(alphabet="0123456789 -.\u00a0\u2013AS6U2Dsu", max_size=16),
                  nhs_numbers().map(lambda d: f"{d[:3]} {d[3:6]} {d[6:]}"), st.sampled_from(["S60 2UD", "gir 0aa"]))


@given(st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=1, max_size=6), st.sets(st.integers(0, 5)))
def test_the_whole_file_scan_finds_in_each_column_what_the_column_scan_finds(columns, keys):
    """first_identifiers (one pass over every column, ingest and the release check) gives, column by column and
    in column order, exactly the first hit of first_identifier (a key column: a value that is an identifier)."""
    frame = pl.DataFrame({f"c{i}": cells for i, cells in enumerate(columns)}, schema={f"c{i}": pl.String
                                                                                      for i in range(len(columns))})
    key_columns = frozenset(f"c{i}" for i in keys)
    expected = {c: hit for c in frame.columns if (hit := first_identifier(frame[c], key=c in key_columns))}
    found = first_identifiers(frame, key_columns)
    assert found == expected and list(found) == list(expected)


def test_nhs_number_check_digit():
    assert valid_nhs_digits(VALID)
    assert is_nhs_number("943 476 5919") and is_nhs_number("943-476-5919") and is_nhs_number("943\u00a0476\u00a05919")
    assert not is_nhs_number("9434765918")  # wrong check digit
    assert not is_nhs_number("943476591")  # 9 digits
    assert not is_nhs_number("T9434765919")  # holds one, but is not one
    assert not is_nhs_number("")


def test_check_digit_ten_is_never_valid():
    """A 9-digit stem whose weighted sum leaves remainder 1 would need check digit 10: no NHS number."""
    stems = [f"{i:09d}" for i in range(2000) if check_digit(f"{i:09d}") is None]
    assert stems
    assert not any(valid_nhs_digits(s + str(d)) for s in stems[:5] for d in range(10))


@pytest.mark.parametrize("text", ["S60 2UD", "s60 2ud", "S602UD", "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH",
                                  "DN55 1PT", "EC1A 1BB", "Flat 2, 10 Main Street, Rotherham S60\u00a02UD", "GIR 0AA"])
def test_full_postcodes_are_found_in_free_text(text):
    assert contains_postcode(text)
    assert identifier_in_text(text) == "a full UK postcode"


@pytest.mark.parametrize("text", ["RFR", "RHQ", "C87001", "E01007001", "J449", "S01", "VCS01", "ADV01", "2013Q4",
                                  "S60", "Sheffield S6", "R000123", "Befriending service", "£1,234.50",
                                  "M25 motorway", "2013-10-01 00:00:00", "Attendance Allowance"])
def test_contract_codes_and_ordinary_text_are_not_postcodes(text):
    assert not contains_postcode(text)
    assert identifier_in_text(text) is None


def test_pseudonymised_keys_may_hold_ten_digits_but_may_not_be_an_nhs_number_or_postcode():
    tokens = pl.DataFrame({"TOKEN_PERSON_ID": ["Ta1301460664b", "T1653950269d1"], "SEX": ["1", "2"]})
    refuse_identifiers(tokens, "hes/2013Q4/persons.csv", pl.Series([2, 3]), frozenset({"TOKEN_PERSON_ID"}))
    with pytest.raises(IdentifierError, match="row 2, column 'SEX'"):  # outside a key column, the rule is whole
        refuse_identifiers(tokens.select(pl.col("TOKEN_PERSON_ID").alias("SEX")), "f.csv", pl.Series([2, 3]))
    for value in ("943 476 5919", " 9434765919 ", "S60 2UD"):
        keyed = pl.DataFrame({"TOKEN_PERSON_ID": ["T1", value]})
        with pytest.raises(IdentifierError, match="row 3, column 'TOKEN_PERSON_ID'"):
            refuse_identifiers(keyed, "hes/2013Q4/persons.csv", pl.Series([2, 3]), frozenset({"TOKEN_PERSON_ID"}))


@pytest.mark.parametrize("header", ["NHS_NUMBER", "nhs number", "NHS-No", "NHS No.", "NHSNUMBER", "Name", "full name",
                                    "Patient Name", "Forenames", "Forename(s)", "first-name", "Surname", "last_name",
                                    "Address", "ADDRESS_2", "address 3", "Postcode", "Post Code", "DOB", "D.O.B.",
                                    "date of birth", "Date-of-Birth:"])
def test_identifier_columns(header):
    assert is_identifier_column(header)


@given(st.lists(st.text(alphabet="ABDEFHILMNOPRSTUVabdfhilmnost .-_()0123:", max_size=16), min_size=1, max_size=30))
def test_identifier_column_rule_is_the_same_vectorised(headers):
    """Workbook cells are checked with the vectorised form of the header rule; the two must agree."""
    mask = pl.DataFrame({"h": headers}).select(identifier_name_mask(pl.col("h"))).to_series().to_list()
    assert mask == [is_identifier_column(h) for h in headers]


@pytest.mark.parametrize("header", ["YEAR_OF_BIRTH", "SERVICE_NAME", "TOKEN_PERSON_ID", "PROVIDER_CODE", "LSOA11",
                                   "Name of service", "BENEFIT_TYPE"])
def test_contract_columns_are_not_identifiers(header):
    assert not is_identifier_column(header)


def test_a_header_holding_an_nhs_number_is_refused_by_position_only():
    with pytest.raises(IdentifierError) as refused:
        refuse_identifier_headers(["TOKEN_PERSON_ID", "943 476 5919"], "hes/2013Q4/apc.csv")
    assert "column 2" in str(refused.value) and "5919" not in str(refused.value)


def test_refusal_names_file_row_and_column_but_not_the_value():
    frame = pl.DataFrame({"TOKEN_PERSON_ID": ["T1", "T2"], "NOTE": ["fine", VALID]})
    with pytest.raises(IdentifierError) as caught:
        refuse_identifiers(frame, "hes/2013Q4/persons.csv", pl.Series([2, 3]))
    message = str(caught.value)
    assert "hes/2013Q4/persons.csv" in message and "row 3" in message and "'NOTE'" in message
    assert VALID not in message


def test_names_holding_an_identifier_are_withheld():
    assert safe_name("VCS01.xlsx") == "VCS01.xlsx"
    assert "9434765919" not in safe_name("9434765919.xlsx") and "withheld" in safe_name("9434765919.xlsx")
    assert "2UD" not in safe_name("Contacts S60 2UD.csv")
