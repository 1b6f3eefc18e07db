"""Property tests of the validators and text helpers against random and hostile input.

A validator either returns a normalized value that satisfies its invariants or raises
ValidationError with a message; never another exception. The text helpers never fail, and what
they return is stable: cleaning a cleaned value changes nothing.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from grassroots.core import validators
from grassroots.core.text import (
    clean_text,
    compact,
    name_key,
    name_pinyin,
    search_text,
    to_simplified,
)
from grassroots.core.validators import (
    credit_code_with_check,
    id_number_with_check,
    mask_id_number,
    mask_phone,
    parse_id_number,
    validate_credit_code,
    validate_id_number,
    validate_mobile,
)

# Bounded: the whole file runs in a few seconds; no example database is written.
BOUNDED = settings(max_examples=100, deadline=None, database=None)

MEGABYTE = 1024 * 1024

SQL = [
    "'; DROP TABLE registry_resident; --",
    "1 OR 1=1",
    "' OR ''='",
    '"; DELETE FROM accounts_user; --',
    "1; SELECT pg_sleep(10)--",
    "%",
    "_",
    "\\",
    "' UNION SELECT id_number FROM registry_resident --",
]
CONTROL = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\x9f", "\t", "\r\n", "\u2028", "\x0c"]
INVISIBLE = ["\u200f", "\u202e", "\u2066", "\u200b", "\ufeff", "\u00ad", "\u3000", "\u00a0"]
FORMULA = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", '=HYPERLINK("x")']
DIGITS = ["１２３", "١٢٣", "۱۲۳", "१२३", "𝟏𝟐𝟑", "①②", "¹²³", "〇", "ｘＸ"]
CHINESE = ["赵光菊", "趙光菊", "欧阳·娜娜", "曾", "薴", "𠀀", "阿依古丽·买买提"]
HOSTILE_PIECES = SQL + CONTROL + INVISIBLE + FORMULA + DIGITS + CHINESE

# Random text, hostile pieces, and mixtures of both.
HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HOSTILE_PIECES),
    st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=5)), max_size=6).map(
        "".join
    ),
)
# What a spreadsheet cell can hold once read: text, numbers, dates, nothing.
CELL = st.one_of(
    HOSTILE,
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dates(),
)
# One megabyte of each kind of hostile text: a few explicit examples, not many random ones.
HUGE = [
    "9" * MEGABYTE,
    "赵" * MEGABYTE,
    "\x00" * MEGABYTE,
    ("'; DROP TABLE x; --" * (MEGABYTE // 19 + 1))[:MEGABYTE],
    ("=1+1\u202e" * (MEGABYTE // 5 + 1))[:MEGABYTE],
    " " * MEGABYTE,
]

VALID_IDS = st.builds(
    lambda birth, seq: id_number_with_check(f"350426{birth:%Y%m%d}{seq:03d}"),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2020, 12, 31)),
    st.integers(0, 999),
)
VALID_MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
VALID_CREDIT_CODES = st.builds(
    credit_code_with_check,
    st.from_regex(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}", fullmatch=True),
)

# Other scripts' digits, which str.isdigit() and a plain \d accept.
_FOREIGN_DIGITS = [0x660, 0x6F0, 0x966, 0xFF10, 0x1D7CE]


@st.composite
def disturbed(draw, valid):
    """A valid value with one disturbance: a hostile piece inserted somewhere, its digits in
    another script, or a character dropped or doubled."""
    value = draw(valid)
    how = draw(st.sampled_from(["insert", "digits", "drop", "double", "as is"]))
    at = draw(st.integers(0, len(value)))
    if how == "insert":
        return value[:at] + draw(st.sampled_from(HOSTILE_PIECES)) + value[at:]
    if how == "digits":
        base = draw(st.sampled_from(_FOREIGN_DIGITS))
        return "".join(chr(base + int(c)) if c.isdigit() else c for c in value)
    if how == "drop":
        return value[:at] + value[at + 1 :]
    if how == "double":
        return value[:at] + value[at : at + 1] * 2 + value[at + 1 :]
    return value


def refused_or(validator, value):
    """The validator's answer, or None when it raised ValidationError with a message."""
    try:
        return validator(value)
    except ValidationError as exc:
        assert exc.messages and all(m.strip() for m in exc.messages)
        return None


# ID numbers


ID_CODES = {"required", "length", "format", "birth_date", "checksum"}


def assert_valid_id(parsed, *, today=None):
    number = parsed.number
    assert re.fullmatch(r"[0-9]{17}[0-9X]", number), number
    assert ric.calc_check_digit(number) == number[-1]
    assert parsed.birth_date == datetime.date(
        int(number[6:10]), int(number[10:12]), int(number[12:14])
    )
    assert parsed.birth_date.year >= 1880
    assert parsed.birth_date <= (today or datetime.date.today())
    assert parsed.sex == ("M" if int(number[16]) % 2 else "F")
    # Normalized: the normalized number reads as itself.
    assert parse_id_number(number) == parsed


@BOUNDED
@given(st.one_of(CELL, disturbed(VALID_IDS)))
@example("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X")  # 11010519491231002X in Arabic-Indic digits
@example("11010519491231002X\n")
@example("11010519491231002X\x00")
def test_it_parses_an_id_number_or_refuses_it_with_a_reason(value):
    try:
        parsed = parse_id_number(value)
    except ValidationError as exc:
        assert exc.messages and exc.messages[0]
        assert exc.code in ID_CODES
    else:
        assert_valid_id(parsed)
        assert validate_id_number(value) == parsed.number


@BOUNDED
@given(VALID_IDS, st.sampled_from(["", " ", "\u3000", "\t", "\x00", "\u200b"]))
def test_it_reads_a_valid_id_number_through_spaces_controls_and_full_width(number, noise):
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number.lower())
    for messy in (noise + number + noise, full_width, number[:6] + noise + number[6:]):
        try:
            parsed = parse_id_number(messy)
        except ValidationError:
            # Only zero-width characters are not spaces: they are refused, never misread.
            assert noise == "\u200b"
        else:
            assert parsed.number == number


# Credit codes


@BOUNDED
@given(st.one_of(CELL, disturbed(VALID_CREDIT_CODES)))
@example("٩١٣٥٠٤٢٦MA2Y0A0B1X")
def test_it_validates_a_credit_code_or_refuses_it_with_a_reason(value):
    code = refused_or(validate_credit_code, value)
    if code is not None:
        assert re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}", code), code
        assert uscc.is_valid(code)
        assert validate_credit_code(code) == code


# Mobile numbers


@BOUNDED
@given(st.one_of(CELL, disturbed(VALID_MOBILES), VALID_MOBILES.map(lambda m: "+86 " + m)))
@example("13" + "".join(chr(0x660 + int(c)) for c in "800138000"))
def test_it_validates_a_mobile_number_or_refuses_it_with_a_reason(value):
    number = refused_or(validate_mobile, value)
    if number is not None:
        assert re.fullmatch(r"1[3-9][0-9]{9}", number), number
        assert validate_mobile(number) == number


# Masks: every mask_* function of core.validators, present and future.

MASKS = sorted(
    (name, getattr(validators, name))
    for name in dir(validators)
    if name.startswith("mask_") and callable(getattr(validators, name))
)


@pytest.mark.parametrize(("name", "mask"), MASKS, ids=[name for name, _m in MASKS])
@BOUNDED
@given(value=st.one_of(HOSTILE, VALID_IDS, VALID_MOBILES))
def test_it_masks_without_revealing_more_than_it_keeps(name, mask, value):
    masked = mask(value)
    assert isinstance(masked, str)
    assert len(masked) == len(value)
    # Every character is the original one or a star, and something is hidden.
    assert all(m in ("*", v) for m, v in zip(masked, value, strict=True))
    if value and "*" not in value:
        assert masked != value


@BOUNDED
@given(VALID_IDS, VALID_MOBILES)
def test_it_masks_the_middle_of_id_and_mobile_numbers(number, mobile):
    assert mask_id_number(number) == number[:4] + "*" * 10 + number[-4:]
    assert mask_phone(mobile) == mobile[:3] + "****" + mobile[-4:]


# Text


def assert_clean(text):
    assert isinstance(text, str)
    assert not any(unicodedata.category(c) == "Cc" for c in text), ascii(text)
    assert all(c == " " or not c.isspace() for c in text), ascii(text)
    assert "  " not in text and text == text.strip()
    assert unicodedata.is_normalized("NFKC", text)


@BOUNDED
@given(CELL)
@example("e\x00\u0301")  # a control between a letter and its accent
@example("a\x9fb")
def test_it_cleans_any_cell_to_stable_normalized_text(value):
    cleaned = clean_text(value)
    assert_clean(cleaned)
    assert clean_text(cleaned) == cleaned


@BOUNDED
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
def test_it_cleans_printable_ascii_the_same_way_as_any_text(text):
    # clean_text has a fast path for printable ASCII; it must agree with the general one.
    assert clean_text(text) == clean_text(text + "\x00")


@BOUNDED
@given(CELL)
@example("A \u0301")  # the space gone, the accent joins the letter
def test_it_compacts_to_text_without_spaces(value):
    compacted = compact(value)
    assert_clean(compacted)
    assert " " not in compacted
    assert compacted == unicodedata.normalize("NFKC", clean_text(value).replace(" ", ""))
    assert compact(compacted) == compacted


@BOUNDED
@given(st.one_of(HOSTILE, st.text(alphabet=st.characters(min_codepoint=0x2E80), max_size=10)))
@example("薴")  # OpenCC takes it to 苧 and only then to 苎
def test_it_simplifies_character_by_character_once_and_for_all(text):
    simplified = to_simplified(text)
    assert len(simplified) == len(text)
    assert to_simplified(simplified) == simplified
    assert all(s == t for s, t in zip(simplified, text, strict=True) if t.isascii())


@BOUNDED
@given(st.one_of(HOSTILE, st.sampled_from(CHINESE)))
def test_it_keys_names_the_same_way_however_they_were_typed(name):
    key = name_key(name)
    assert_clean(key)
    assert " " not in key and "·" not in key
    assert key == key.lower()
    assert name_key(key) == key
    assert name_key(to_simplified(name)) == key
    assert search_text(name) == key


@BOUNDED
@given(st.one_of(HOSTILE, st.sampled_from(CHINESE)).map(name_key))
@example("赵光菊")
def test_it_reads_any_name_key_as_ascii_pinyin(key):
    full, initials = name_pinyin(key)
    assert re.fullmatch(r"[a-z0-9]*", full), full
    assert re.fullmatch(r"[a-z0-9]*", initials), initials
    assert len(initials) <= len(full)
    if full:
        assert full[0] == initials[0]


def test_it_reads_chinese_names_one_syllable_per_character():
    assert name_pinyin(name_key("趙光菊")) == ("zhaoguangju", "zgj")
    assert name_pinyin(name_key("欧阳·娜娜")) == ("ouyangnana", "oynn")
    assert name_pinyin("曾") == ("zeng", "z")


# One-megabyte cells: a few explicit examples, each through every validator and helper.


@pytest.mark.parametrize("huge", HUGE, ids=["digits", "chinese", "nul", "sql", "formula", "spaces"])
def test_it_refuses_or_cleans_a_one_megabyte_cell_without_failing(huge):
    for validator in (parse_id_number, validate_credit_code, validate_mobile):
        with pytest.raises(ValidationError) as info:
            validator(huge)
        # The reason says what is wrong; it does not repeat the megabyte.
        assert len(info.value.messages[0]) < 200
    cleaned = clean_text(huge)
    assert_clean(cleaned)
    assert len(cleaned) <= len(huge)
    assert_clean(compact(huge))
    key = name_key(huge)
    assert name_pinyin(key)[0].isascii()
    assert len(mask_id_number(huge)) == len(huge)
    assert len(mask_phone(huge)) == len(huge)
