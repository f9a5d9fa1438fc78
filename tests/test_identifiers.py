import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from speval.identifiers import IdentifierError, is_identifier_column, is_nhs_number, nhs_number_mask, refuse_identifiers

VALID = "9434765919"  # modulus-11 check digit 9


def test_nhs_number_check_digit():
    assert is_nhs_number(VALID)
    assert is_nhs_number("943 476 5919")
    assert is_nhs_number("943-476-5919")
    assert not is_nhs_number("9434765918")  # wrong check digit
    assert not is_nhs_number("943476591")  # 9 digits
    assert not is_nhs_number("T9434765919")
    assert not is_nhs_number("")


def test_check_digit_ten_is_never_valid():
    """A 9-digit stem whose weighted sum leaves remainder 1 would need check digit 10: no NHS number."""
    stems = [f"{i:09d}" for i in range(2000)
             if 11 - sum(int(d) * w for d, w in zip(f"{i:09d}", range(10, 1, -1))) % 11 == 10]
    assert stems
    assert not any(is_nhs_number(s + str(d)) for s in stems[:5] for d in range(10))


@given(st.lists(st.text(alphabet="0123456789 -A", min_size=0, max_size=13), min_size=1, max_size=40))
def test_vectorised_mask_agrees_with_scalar(values):
    frame = pl.DataFrame({"v": values})
    mask = frame.select(nhs_number_mask(pl.col("v"))).to_series().to_list()
    assert mask == [is_nhs_number(v) for v in values]


@pytest.mark.parametrize("header", ["NHS_NUMBER", "nhs number", "NHS-No", "NHSNUMBER", "Name", "full name",
                                    "Forenames", "first-name", "Surname", "last_name", "Address", "ADDRESS_2",
                                    "address 3", "Postcode", "DOB", "date of birth"])
def test_identifier_columns(header):
    assert is_identifier_column(header)


@pytest.mark.parametrize("header", ["YEAR_OF_BIRTH", "SERVICE_NAME", "TOKEN_PERSON_ID", "PROVIDER_CODE", "LSOA11"])
def test_contract_columns_are_not_identifiers(header):
    assert not is_identifier_column(header)


def test_refusal_names_file_row_and_column_but_not_the_value():
    frame = pl.DataFrame({"TOKEN_PERSON_ID": ["T1", "T2"], "NOTE": ["fine", VALID]})
    with pytest.raises(IdentifierError) as caught:
        refuse_identifiers(frame, "hes/2013Q4/persons.csv", pl.Series([2, 3]))
    message = str(caught.value)
    assert "hes/2013Q4/persons.csv" in message and "row 3" in message and "'NOTE'" in message
    assert VALID not in message
