from grassroots.core.text import clean_text, compact, name_key, name_pinyin, to_simplified


def test_it_reads_names_as_pinyin_and_initials():
    assert name_pinyin(name_key("赵光菊")) == ("zhaoguangju", "zgj")


def test_it_reads_surnames_with_their_surname_reading():
    assert name_pinyin("曾国藩")[1] == "zgf"
    assert name_pinyin("单雄信")[0] == "shanxiongxin"


def test_it_maps_traditional_to_simplified():
    assert to_simplified("趙光菊") == "赵光菊"
    assert name_key(" 趙 光菊 ") == "赵光菊"


def test_it_normalizes_full_width_and_spaces():
    assert clean_text("\u3000ＡＢＣ  １２３\t") == "ABC 123"
    assert compact(" 350 426 ") == "350426"
    assert clean_text(None) == ""
    assert clean_text("a\x00b") == "ab"
