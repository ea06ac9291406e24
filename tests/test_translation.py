"""Word-by-word translation of short questions (retrieval/translation.py) with the real FreeDict
dictionaries (Debian), CC-CEDICT (PyPI) and lemmas, and dictd files made here."""

from __future__ import annotations

import gzip
import json

import pytest

from retrieval.language import identify, likely_languages, script_language
from retrieval.translation import (
    DictionaryTranslator,
    Translation,
    clean_gloss,
    dictd_entries,
    freedict_table,
)

_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 64)
        digits = _DIGITS[rest] + digits
        if not number:
            return digits


def write_dictd(root, name: str, entries: list[tuple[str, str]]) -> None:
    """A dictd database ``freedict-NAME`` (index + gzip data) of (headword, body) entries."""
    data, index = b"", []
    for headword, body in entries:
        text = f"{headword}\n{body}\n".encode()
        index.append(f"{headword}\t{_b64(len(data))}\t{_b64(len(text))}")
        data += text
    (root / f"freedict-{name}.dict.dz").write_bytes(gzip.compress(data))
    (root / f"freedict-{name}.index").write_text("\n".join(index) + "\n", encoding="utf-8")


def test_a_dictd_database_is_read_entry_by_entry(tmp_path):
    write_dictd(tmp_path, "fra-eng", [("cheval", "horse\nsteed"), ("chat /ʃa/ <n>", "1. cat")])
    entries = dict(dictd_entries("fra-eng", tmp_path))
    assert entries == {"cheval": ["horse", "steed"], "chat /ʃa/ <n>": ["1. cat"]}


def test_glosses_lose_numbering_references_and_remarks():
    assert clean_gloss("1. {猫・1}cat (animal), kitty") == "cat"
    assert clean_gloss("horse <n>") == "horse"


def test_the_plainest_english_word_wins_and_backwards_readings_count(tmp_path):
    """A foreign word's candidates: its own first sense and each English word that lists it
    first; the shortest plain word wins (not "leapfrog", not "k9")."""
    write_dictd(tmp_path, "deu-eng", [("Frosch", "leapfrog"), ("Hund", "hound")])
    write_dictd(tmp_path, "eng-deu", [("frog", "Frosch"), ("k9", "Hund"), ("dog", "Hund, Rüde")])
    table = freedict_table("de", tmp_path)
    assert table["frosch"] == "frog" and table["hund"] == "dog" and table["rüde"] == "dog"


def test_between_equally_plain_readings_the_one_more_entries_give_wins(tmp_path):
    """FreeDict's German has no "Baum" headword; "boom" and "tree" (two entries) both list it,
    and the alphabet picked "boom"."""
    entries = [("boom", "Baum"), ("tree", "Baum"), ("tree", "Baum, Stamm"), ("trunk", "Stamm")]
    write_dictd(tmp_path, "eng-deu", entries)
    write_dictd(tmp_path, "deu-eng", [])
    assert freedict_table("de", tmp_path)["baum"] == "tree"


def test_a_remark_with_commas_does_not_lose_its_entry(tmp_path):
    """JMdict glosses often carry a remark with commas: "peafowl (incl. the male peacock,
    female peahen, and young peachick)" was cut at its commas first, so "peafowl (incl. the
    male peacock" failed the English-word check and the entry was lost: "クジャク" (peacock)
    was cut into "クジ" + "ャ" + "ク" and read "lottery ャ nine"."""
    note = "Note: word usually written using kana alone"
    write_dictd(tmp_path, "jpn-eng", [
        ("くじゃく", f"(noun (common) (futsuumeishi))\n\n {note}peafowl (incl. the male "
                    "peacock, female peahen, and young peachick)"),
        ("いんこ", f"(noun)\n {note}true parrot (esp. small (green) parrots, lories), budgie"),
        ("くじ", "lottery"),
    ])  # fmt: skip
    write_dictd(tmp_path, "eng-jpn", [("dog", "犬")])
    table = freedict_table("ja", tmp_path)
    assert table["くじゃく"] == "peafowl" and table["いんこ"] == "true parrot"
    translator = DictionaryTranslator(tmp_path / "cache", dictd_dir=tmp_path)
    assert translator.translate("クジャク", "ja").english == "peafowl"


def test_a_german_compound_is_read_by_its_parts(tmp_path):
    """German writes compounds as one word, and a dictionary cannot hold them all: "Eine
    Silbermöwe." and "das Linux-Maskottchen" were kept as they were (coverage 0)."""
    write_dictd(tmp_path, "deu-eng", [
        ("Silber", "silver"), ("Möwe", "gull"), ("Pfau", "peacock"), ("Henne", "hen"),
        ("Maskottchen", "mascot"), ("Wolle", "wool"), ("Socke", "sock"),
    ])  # fmt: skip
    write_dictd(tmp_path, "eng-deu", [("dog", "Hund")])
    translator = DictionaryTranslator(tmp_path / "cache", dictd_dir=tmp_path)
    assert translator.translate("Eine Silbermöwe.", "de") == Translation("silver gull", 1.0)
    assert translator.translate("Pfauenhenne", "de").english == "peacock hen"  # linking "en"
    assert translator.translate("das Linux-Maskottchen", "de").english == "linux mascot"
    assert translator.translate("Zorglubmöwe", "de").coverage == 0.0  # no split reads


def test_a_missing_dictionary_is_no_translation_not_a_crash(tmp_path, caplog):
    translator = DictionaryTranslator(tmp_path / "cache", dictd_dir=tmp_path)
    assert translator.translate("une grenouille", "fr") is None
    assert translator.translate("un cheval", "fr") is None
    said = [r for r in caplog.records if "no translation from fr" in r.getMessage()]
    assert len(said) == 1  # looked for and said once, not on every question
    assert translator.translate("una rana", "xx") is None  # a language without dictionaries


@pytest.mark.parametrize(
    ("text", "language", "english"),
    [
        ("Une grenouille.", "fr", "frog"),
        ("des chevaux", "fr", "horse"),  # a plural by its lemma
        ("pomme de terre", "fr", "potato"),  # a several-word entry
        ("caballos", "es", "Horses"),  # Apertium's reading (not "horsepower")
        ("Una oveja.", "es", "A sheep."),
        ("Pferden", "de", "horse"),
        ("Hunden", "de", "dog"),
        ("Ein roter Apfel.", "de", "red apple"),
        ("Vögel", "de", "bird"),  # not the verb "vögeln" the lemmatiser made of "vögel"
        ("vögel", "de", "bird"),  # typed in lower case
        ("Eine Taube.", "de", "dove"),  # not "taub" (deaf)
        ("Tauben", "de", "cock pigeon"),  # seen: "Hast du Tauben?" read "dead", no pigeon found
        ("Eine Taube und ein roter Apfel.", "de", "dove red apple"),
        ("Bäume", "de", "tree"),  # not "bäumen" (to rear up), nor "boom"
        ("лягушкой", "ru", "frog"),  # through the German and Japanese pivots
        ("Красное яблоко", "ru", "red apple"),
        ("一只绵羊。", "zh", "sheep"),  # cut without spaces, classifiers dropped
        ("猫", "zh", "cat"),
        ("カエル", "ja", "frog"),  # katakana found by its hiragana reading
        ("赤いりんご", "ja", "red apple"),
    ],
)
def test_short_questions_are_read_in_english(translator, text, language, english):
    found = translator.translate(text, language)
    assert found is not None and found.english == english and found.coverage == 1.0


def test_unknown_words_are_kept_and_lower_the_coverage(translator):
    found = translator.translate("une grenouille de Zorglub", "fr")
    assert found.english == "frog zorglub" and found.coverage == 0.5


def test_the_language_that_explains_most_words_is_taken(translator):
    """Short text is often taken for a neighbour language ("Una oveja." for Italian)."""
    assert translator.best("Una oveja.", ["it", "es", "pt"]).english == "A sheep."
    assert translator.best("Un mouton.", ["es", "fr"]).english == "sheep"


def test_tables_are_cached_and_a_corrupt_cache_is_rebuilt(tmp_path, translator):
    cache = tmp_path / "cache"
    first = DictionaryTranslator(cache)
    assert first.translate("un chien", "fr").english == "dog"
    saved = json.loads((cache / "translation-fr.json").read_text(encoding="utf-8"))
    assert saved["table"]["chien"] == "dog"
    (cache / "translation-fr.json").write_text("{not json", encoding="utf-8")
    assert DictionaryTranslator(cache).translate("un chien", "fr").english == "dog"


def test_text_in_another_script_is_not_taken_for_english():
    """fastText's small model calls short Chinese "en"; the script says otherwise."""
    assert identify("给我看看香蕉")[0] == "zh"
    assert script_language("ヒツジ") == "ja" and script_language("Овца") == "ru"
    assert script_language("a frog") == "" and identify("Do you have a frog?")[0] == "en"
    assert likely_languages("Une grenouille.", 3)[0][0] == "fr"


@pytest.fixture(scope="module")
def translator(model_cache):
    return DictionaryTranslator(model_cache)  # the tables the encoder's tests use too


def test_text_without_content_words_builds_no_table(tmp_path):
    """A number or a lone article has nothing to translate: no dictionary is read for it (at
    ingest an OCR'd "000" taken for Russian built the Russian, German and Japanese tables, 25 s
    of the demo's first start)."""
    cache = tmp_path / "cache"
    translator = DictionaryTranslator(cache)
    assert translator.translate("000", "ru") is None
    assert translator.translate("Le 12.", "fr") is None
    assert translator.translate("No. 5", "zh") is None
    assert not cache.exists() or not list(cache.iterdir())
    assert translator.translate("un chien", "fr").english == "dog"  # real words still are
