import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from grassroots.core.validators import (
    credit_code_with_check,
    id_number_with_check,
    mask_id_number,
    mask_phone,
    parse_id_number,
    validate_credit_code,
    validate_mobile,
)

VALID_ID = "11010519491231002X"


def test_it_accepts_a_valid_id_number_and_derives_sex_and_birth_date():
    parsed = parse_id_number(VALID_ID)
    assert parsed.number == VALID_ID
    assert parsed.birth_date == datetime.date(1949, 12, 31)
    assert parsed.sex == "F"  # 17th digit 2 is even


def test_it_normalizes_full_width_digits_spaces_and_lower_case_x():
    messy = " １１０１０５ 19491231 002x\u3000"
    assert parse_id_number(messy).number == VALID_ID


def test_it_never_refuses_an_unknown_region_code():
    # 999999 is in no code table; the check character and birth date decide.
    number = id_number_with_check("99999919800101001")
    assert parse_id_number(number).number == number


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "ID number is empty"),
        ("1101051949123100", "ID number must have 18 characters, not 16"),
        ("11010519491231002Y", "ID number must be 17 digits followed by a digit or X"),
        ("110105194912310021", "ID number check character is wrong (expected X)"),
        (
            id_number_with_check("11010519490230002"),
            "ID number holds no real birth date (19490230)",
        ),
        (id_number_with_check("11010520991231002"), "ID number has a birth date in the future"),
    ],
)
def test_it_refuses_bad_id_numbers_with_a_reason(value, message):
    with pytest.raises(ValidationError) as info:
        parse_id_number(value)
    assert info.value.messages == [message]


def test_it_validates_credit_codes():
    code = credit_code_with_check("91350426MA2XXXXX0")
    assert validate_credit_code(code.lower()) == code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(ValidationError, match="Credit code check character is wrong"):
        validate_credit_code(wrong)
    with pytest.raises(ValidationError, match="must have 18 characters"):
        validate_credit_code("91350426")


def test_it_validates_mobile_numbers():
    assert validate_mobile("+86 138-0013-8000") == "13800138000"
    assert validate_mobile("１３８００１３８０００") == "13800138000"
    for bad in ("12800138000", "1380013800", "abc"):
        with pytest.raises(ValidationError, match="Mobile number must be 11 digits"):
            validate_mobile(bad)


def test_it_masks_numbers():
    assert mask_id_number("35010219800101123X") == "3501**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("") == ""


@given(st.text(max_size=40))
def test_it_never_crashes_on_arbitrary_id_input(text):
    try:
        parsed = parse_id_number(text)
    except ValidationError as exc:
        assert exc.messages
    else:
        assert len(parsed.number) == 18


@given(st.text(max_size=40))
def test_it_never_crashes_on_arbitrary_credit_codes_and_phones(text):
    for validator in (validate_credit_code, validate_mobile):
        try:
            value = validator(text)
        except ValidationError as exc:
            assert exc.messages
        else:
            assert len(value) in (11, 18)


@given(
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2020, 12, 31)),
    st.integers(0, 999),
)
def test_it_round_trips_generated_numbers(birth, seq):
    number = id_number_with_check(f"350426{birth:%Y%m%d}{seq:03d}")
    parsed = parse_id_number(number)
    assert parsed.birth_date == birth
    assert parsed.sex == ("M" if seq % 2 else "F")
