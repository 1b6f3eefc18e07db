"""Text normalization for data that arrives from spreadsheets and phones.

Real registers hold full-width digits and letters, ideographic spaces, a lower-case x at the
end of ID numbers and traditional characters. Everything that is stored or searched passes
through these helpers first, so that the same person typed two ways is found one way.
"""

from __future__ import annotations

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


__all__ = ["clean_text", "compact", "name_key", "name_pinyin", "search_text", "to_simplified"]
