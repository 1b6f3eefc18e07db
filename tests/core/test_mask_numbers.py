"""mask_numbers: phone and ID numbers written into free text never survive, however written."""

from __future__ import annotations

import datetime
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grassroots.core.text import mask_numbers
from grassroots.core.validators import id_number_with_check

# Ways to write each digit: ASCII, full-width, Arabic-Indic, Devanagari, mathematical bold,
# Chinese numerals.
SCRIPTS = [
    lambda d: str(d),
    lambda d: chr(0xFF10 + d),
    lambda d: chr(0x0660 + d),
    lambda d: chr(0x0966 + d),
    lambda d: chr(0x1D7CE + d),
    lambda d: "零一二三四五六七八九"[d],
]
JOINERS = ["", "", "", " ", "-", ".", "\u3000", "－", "—", "\u200b", " - ", "．", "\u00a0"]
X_FORMS = ["X", "x", "Ｘ", "ｘ"]
CHINESE_NUMERALS = set("〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖")
CHINESE_VALUES = {c: str(i) for i, c in enumerate("零一二三四五六七八九")}


def digits_of(text: str) -> str:
    """The digits a reader sees in `text`, in any script, and nothing else."""
    found = []
    for char in text:
        value = unicodedata.digit(char, None)
        found.append(str(value) if value is not None else CHINESE_VALUES.get(char, ""))
    return "".join(found)


# Text around a number: no digits of any kind, and no characters that join digits.
prose = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "No", "Nl", "Cs", "Zs", "Cf", "Mn", "Me", "Pd"),
        blacklist_characters="".join(CHINESE_NUMERALS) + ".．·・。()（）+＋XxＸｘ×\n\t",
    ),
    max_size=12,
)
mobiles = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
id_numbers = st.builds(
    lambda region, birth, seq: id_number_with_check(f"{region}{birth}{seq:03d}"),
    st.sampled_from(["350426", "350206", "110101", "440305", "652901"]),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2025, 12, 31)).map(
        lambda d: d.strftime("%Y%m%d")
    ),
    st.integers(min_value=0, max_value=999),
)


@st.composite
def written(draw: st.DrawFn, number: str) -> str:
    """`number` as a person might type it: each digit in some script, joiners in between."""
    script = draw(st.sampled_from(SCRIPTS))
    parts = []
    for index, char in enumerate(number):
        if index:
            parts.append(draw(st.sampled_from(JOINERS)))
        if char == "X":
            parts.append(draw(st.sampled_from(X_FORMS)))
        else:
            mixed = draw(st.booleans()) and draw(st.booleans())  # now and then another script
            parts.append((draw(st.sampled_from(SCRIPTS)) if mixed else script)(int(char)))
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), number=mobiles, before=prose, after=prose)
def test_a_mobile_number_never_survives(data: st.DataObject, number: str, before: str, after: str):
    text = before + data.draw(written(number)) + after
    masked = mask_numbers(text)
    assert number not in digits_of(masked)
    # What is left is what a masked list shows: 138****5678.
    assert digits_of(masked) == number[:3] + number[-4:]
    assert masked.startswith(before) and masked.endswith(after)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), number=id_numbers, before=prose, after=prose)
def test_an_id_number_never_survives(data: st.DataObject, number: str, before: str, after: str):
    text = before + data.draw(written(number)) + after
    masked = mask_numbers(text)
    # What is left is what a masked list shows: 3501**********123X.
    assert digits_of(masked) == digits_of(number[:4] + number[-4:])
    assert masked.endswith(number[-4:] + after)
    assert masked.startswith(before)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_masking_is_stable_and_keeps_text_without_numbers(text: str) -> None:
    masked = mask_numbers(text)
    assert mask_numbers(masked) == masked
    if not digits_of(text) and not CHINESE_NUMERALS & set(text):
        assert masked == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "请联系13912345678，身份证350426198001010012",
            "请联系139****5678，身份证3504**********0012",
        ),
        ("电话 139 1234 5678", "电话 139****5678"),
        ("电话１３９－１２３４－５６７８。", "电话139****5678。"),
        ("+86 139-1234-5678", "+86 139****5678"),
        ("0086 13912345678", "0086 139****5678"),
        ("身份证 350426 19800101 001x", "身份证 3504**********001X"),
        ("一三九一二三四五六七八", "139****5678"),
        ("座机 (0598) 1234567", "座机 (***********"),
        ("工单 20260302001", "工单 ***********"),
        ("2026-03-02 10:30 发现", "2026-03-02 10:30 发现"),
        ("2026.3.2 来电 13912345678", "2026.3.2 来电 139****5678"),
        ("2026-03-02 13912345678", "2026-03-02 139****5678"),
        ("3号楼2单元501室，门牌123456", "3号楼2单元501室，门牌123456"),
        ("一二三四五六", "一二三四五六"),
    ],
)
def test_it_masks_what_people_write(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked
