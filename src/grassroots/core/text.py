"""Text normalization for data that arrives from spreadsheets and phones.

Real registers hold full-width digits and letters, ideographic spaces, a lower-case x at the
end of ID numbers and traditional characters. Everything that is stored or searched passes
through these helpers first, so that the same person typed two ways is found one way.

`mask_numbers` goes the other way: it finds phone and ID numbers however a person wrote them into
free text, for what the public sees of a case.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from functools import lru_cache

import opencc
from pypinyin import lazy_pinyin

_SPACES = re.compile(r"\s+")
# C0 controls but tab and newlines (which become spaces), DEL and the C1 controls.
_CONTROL = dict.fromkeys(c for c in [*range(32), *range(127, 160)] if c not in (9, 10, 13, 133))

# Readings that differ when a character is a surname (pypinyin reads 曾 as "ceng").
SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "查": "zha",
    "区": "ou",
    "朴": "piao",
    "乐": "yue",
    "尉": "yu",
    "种": "chong",
    "秘": "bi",
    "覃": "qin",
    "盖": "ge",
    "缪": "miao",
    "翟": "zhai",
    "员": "yun",
    "万": "wan",
    "沈": "shen",
    "长": "chang",
    "重": "chong",
    "贾": "jia",
    "柏": "bai",
    "燕": "yan",
    "纪": "ji",
    "繁": "po",
    "牟": "mou",
}

_t2s = opencc.OpenCC("t2s")


def clean_text(value: object) -> str:
    """NFKC-normalize (full-width to half-width), drop control characters, collapse spaces."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii() and text.isprintable():
        # Fast path (most cells of an import): NFKC leaves printable ASCII as it is and it has
        # no control characters, so only runs of spaces can need collapsing.
        return _SPACES.sub(" ", text).strip() if "  " in text else text.strip()
    # Controls go first: dropped after NFKC, "e\x00\u0301" would leave an uncomposed é that a
    # second cleaning changes again.
    text = unicodedata.normalize("NFKC", text.translate(_CONTROL))
    return _SPACES.sub(" ", text).strip()


def clean_prose(value: object) -> str:
    """Free text (a description, a note): control characters dropped, line breaks kept,
    Chinese full-width punctuation kept as written (NFKC would turn "，" into ",")."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def compact(value: object) -> str:
    """clean_text with every space removed: for codes and numbers."""
    text = clean_text(value).replace(" ", "")
    # A space gone can bring a letter and its accent together ("A \u0301"): normalize again.
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=65536)
def _char_to_simplified(char: str) -> str:
    simplified = _t2s.convert(char)
    # OpenCC takes a few characters there in two steps (薴 -> 苧 -> 苎): go all the way, so that
    # a name key typed again gives the same key.
    for _step in range(3):
        again = _t2s.convert(simplified)
        if again == simplified:
            break
        simplified = again
    return simplified


def to_simplified(text: str) -> str:
    """Traditional to simplified, one character at a time (cached: names repeat characters)."""
    return "".join(_char_to_simplified(c) if ord(c) > 0x2E7F else c for c in text)


@lru_cache(maxsize=65536)
def _char_pinyin(char: str) -> str:
    reading = lazy_pinyin(char, errors="ignore")
    return reading[0] if reading else ""


def name_key(name: str) -> str:
    """The search key of a name: cleaned, simplified, without spaces or the middle dot."""
    key = to_simplified(clean_text(name)).replace(" ", "").replace("·", "").lower()
    # As in compact(): what was taken out can bring a letter and its accent together.
    return key if key.isascii() else unicodedata.normalize("NFKC", key)


def name_pinyin(key: str) -> tuple[str, str]:
    """(full pinyin, initials) of a name key, e.g. 赵光菊 -> ("zhaoguangju", "zgj").

    Characters are read one at a time with the surname reading for the first one. Names are
    not phrases, so this is what a person typing a name's initials expects, and it is cached.
    """
    syllables = []
    for index, char in enumerate(key):
        if char.isascii():
            if char.isalnum():
                syllables.append(char)
            continue
        syllable = SURNAME_READINGS.get(char) if index == 0 else None
        syllable = syllable or _char_pinyin(char)
        if syllable:
            syllables.append(syllable)
    return "".join(syllables), "".join(s[0] for s in syllables)


def search_text(query: str) -> str:
    """Normalize a search query the way names are normalized when stored."""
    return name_key(query)


# --- Numbers written into free text ------------------------------------------------------------

_MOBILE_NUMBER = re.compile(r"^1[3-9][0-9]{9}$")

# Chinese numerals, which people also write phone numbers in (幺 is "one" read out on the phone).
_CHINESE_DIGITS = {
    **dict.fromkeys("〇零", "0"),
    **dict.fromkeys("一幺壹", "1"),
    **dict.fromkeys("二贰", "2"),
    **dict.fromkeys("三叁", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}
# What people put between the digits of one number besides spaces: dashes, dots, brackets, plus.
_JOINERS = frozenset("-‐‑‒–—―−－﹣﹘.．·・。()（）+＋")
# At most this many joining characters between two digits of one number (" - " and an invisible
# character or two).
_MAX_JOINERS = 4
# The check character of an ID number, in any width (and the multiplication sign typed for it).
_CHECK_X = frozenset("XxＸｘ×")
# A landline number without its area code has 7 digits: shorter runs are left as they are.
_SHORTEST_NUMBER = 7
_DATE_JOINERS = frozenset("-./．")
_TIME_MARKS = frozenset(":：时点")


def _digit(char: str) -> str | None:
    """The value of a digit of any script or width (１, ١, 𝟏, 三), or None."""
    value = unicodedata.digit(char, None)
    if value is not None:
        return str(value)
    return _CHINESE_DIGITS.get(char)


def _joins(char: str) -> bool:
    if char in _JOINERS or char.isspace():
        return True
    # Invisible format characters (zero-width space, ...) and combining marks.
    return unicodedata.category(char) in ("Cf", "Mn", "Me")


def _groups_at(text: str, start: int) -> list[tuple[int, int, str]]:
    """The digit groups of the number starting at `start`: (start, end, digits) each."""
    groups = [(start, start + 1, _digit(text[start]) or "")]
    i, n = start + 1, len(text)
    while i < n:
        j = i
        while j < n and j - i < _MAX_JOINERS and _digit(text[j]) is None and _joins(text[j]):
            j += 1
        value = _digit(text[j]) if j < n else None
        if value is None:
            break
        if j == i:
            begin, _end, digits = groups[-1]
            groups[-1] = (begin, j + 1, digits + value)
        else:
            groups.append((j, j + 1, value))
        i = j + 1
    return groups


def _check_character_after(text: str, end: int) -> int | None:
    """The index of an ID number's check character X right after `end` (joiners allowed)."""
    j = end
    while j < len(text) and j - end < _MAX_JOINERS and _joins(text[j]):
        j += 1
    return j if j < len(text) and text[j] in _CHECK_X else None


def _date_end(text: str, groups: list[tuple[int, int, str]]) -> int | None:
    """Where a leading date (2026-03-02, 2026.3.2) ends, when the run of digits is that date
    alone, the date and the hour of a time (2026-03-02 10:30) or the date and another number of
    7 digits or more (masked on its own); None otherwise."""
    if len(groups) < 3:
        return None
    (_s, end0, year), (start1, end1, month), (start2, end2, day) = groups[:3]
    joined = (text[end0:start1].strip(), text[end1:start2].strip())
    if len(year) != 4 or not (1 <= len(month) <= 2 and 1 <= len(day) <= 2):
        return None
    if not all(j in _DATE_JOINERS for j in joined):
        return None
    try:
        datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None
    if not 1900 <= int(year) <= 2099:
        return None
    rest = groups[3:]
    if len(rest) == 1 and len(rest[0][2]) <= 2:
        end3 = rest[0][1]
        return end2 if end3 < len(text) and text[end3] in _TIME_MARKS else None
    if rest and sum(len(g[2]) for g in rest) < _SHORTEST_NUMBER:
        return None
    return end2


def _masked_number(digits: str, check: str) -> str:
    prefix = ""
    for code in ("0086", "86"):
        rest = digits[len(code) :]
        if len(rest) == 11 and digits.startswith(code) and _MOBILE_NUMBER.match(rest):
            prefix, digits = code + " ", rest
    # The masks of core.validators: 138****5678 and 3501**********123X.
    if not check and _MOBILE_NUMBER.match(digits):
        return prefix + digits[:3] + "****" + digits[-4:]
    if (len(digits) == 17 and check) or (len(digits) == 18 and not check):
        number = digits + ("X" if check else "")
        return number[:4] + "*" * 10 + number[-4:]
    return "*" * (len(digits) + len(check))


def mask_numbers(text: str) -> str:
    """`text` with every phone, ID and other long number masked, however it is written.

    A number is a run of at least 7 digits of any script or width (０-９, ١٢٣, 𝟏𝟐𝟑, Chinese
    numerals) with spaces, dashes, dots, brackets or invisible characters between them, and an ID
    number's check character X in any width. A mobile number keeps its first three and last four
    digits (138****5678), an ID number its first and last four (3501**********123X), any other
    number nothing. A date (2026-03-02, with the hour of a time after it) stays as written.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if _digit(text[i]) is None:
            out.append(text[i])
            i += 1
            continue
        groups = _groups_at(text, i)
        date_end = _date_end(text, groups)
        if date_end is not None:
            out.append(text[i:date_end])
            i = date_end
            continue
        end = groups[-1][1]
        digits = "".join(g[2] for g in groups)
        check = ""
        if len(digits) == 17:
            at = _check_character_after(text, end)
            if at is not None:
                check, end = "X", at + 1
        if len(digits) + len(check) < _SHORTEST_NUMBER:
            out.append(text[i:end])
        else:
            out.append(_masked_number(digits, check))
        i = end
    return "".join(out)


__all__ = [
    "clean_text",
    "compact",
    "mask_numbers",
    "name_key",
    "name_pinyin",
    "search_text",
    "to_simplified",
]
