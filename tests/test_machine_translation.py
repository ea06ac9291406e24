"""Whole-phrase translation with Apertium (retrieval/machine_translation.py), the real Debian
engine and its English-Spanish data, and how the dictionaries fill the words it does not know."""

from __future__ import annotations

import logging
import re

import pytest

from retrieval import machine_translation
from retrieval.machine_translation import MachineReading, read_marks
from retrieval.translation import DictionaryTranslator, Translation
from tests.test_translation import write_dictd

pytestmark = pytest.mark.skipif(
    not machine_translation.available("es"),
    reason="Apertium's Spanish-English pair is not installed (apt-get install apertium-eng-spa)",
)


def test_apertiums_marks_are_read_off_and_its_unknown_words_kept():
    assert read_marks("A *lechuza and a #be @gato.") == MachineReading(
        "A lechuza and a be gato.", ("lechuza", "gato")
    )
    # unknown at both steps of a pivot (French -> Spanish -> English)
    assert read_marks("A **flamant pink") == MachineReading("A flamant pink", ("flamant",))


def test_a_spanish_phrase_is_read_whole_not_word_by_word(model_cache):
    """Word order and inflection: the dictionary alone read "wool red sock"-like lists."""
    translator = DictionaryTranslator(model_cache)
    found = translator.translate("Unos calcetines de lana rojos.", "es")
    assert found is not None and found.coverage == 1.0
    assert "socks" in found.english and "red wool" in found.english
    assert translator.translate("Un pavo real albino hembra.", "es").english == (
        "A female albino peacock."
    )


def test_many_texts_go_through_one_run_and_keep_their_order(model_cache):
    texts = ["Una rana.", "Un tejón\ncon una\n\nmanzana.", "Un pollo.", "Una oveja."]
    batch = DictionaryTranslator(model_cache)
    batch.prepare(texts, ["es", "it"])  # "it": no Apertium pair, nothing run for it
    assert len(batch._machine) == len(texts)
    alone = DictionaryTranslator(model_cache)
    assert [batch.translate(t, "es") for t in texts] == [alone.translate(t, "es") for t in texts]
    found = batch.translate("Un tejón\ncon una\n\nmanzana.", "es")
    assert found.english == "A badger with an apple."


def test_a_word_apertium_does_not_know_is_looked_up_in_the_dictionary(tmp_path):
    write_dictd(tmp_path, "spa-eng", [("zorglub", "frog")])
    write_dictd(tmp_path, "eng-spa", [("dog", "perro")])
    translator = DictionaryTranslator(tmp_path / "cache", dictd_dir=tmp_path)
    found = translator.translate("Un zorglub verde.", "es")
    assert "frog" in found.english and "green" in found.english and found.coverage == 1.0
    unknown = translator.translate("Un blorptix verde.", "es")  # in neither
    assert "blorptix" in unknown.english and unknown.coverage == 0.5


def test_without_apertium_spanish_is_read_word_by_word(model_cache, monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    machine_translation.available.cache_clear()
    try:
        with caplog.at_level(logging.INFO):
            found = DictionaryTranslator(model_cache).translate("Una oveja.", "es")
        assert found.english == "sheep"  # the dictionary's reading, no article
        said = [r.getMessage() for r in caplog.records]
        assert any("apt-get install apertium-eng-spa" in m for m in said), said
    finally:
        monkeypatch.undo()
        machine_translation.available.cache_clear()
    assert machine_translation.available("es")  # found again once it is on the PATH


@pytest.mark.skipif(
    not machine_translation.available("fr"),
    reason="Apertium's French-Spanish pair is not installed (apt-get install apertium-fr-es)",
)
def test_french_words_the_dictionaries_miss_go_through_spanish(model_cache):
    """FreeDict's French has 9,000 words: "pingouin" and "jars" were kept as they are
    (coverage 0). Whole French texts read worse through Apertium's pivot than word by word
    (DEV), so only the missing words take it."""
    translator = DictionaryTranslator(model_cache)
    texts = ["Un pingouin.", "Un jars.", "Une grenouille verte.", "Un zorglub."]
    translator.prepare(texts, ["fr"])
    assert set(translator._machine) == {("pingouin", "fr"), ("jars", "fr"), ("zorglub", "fr")}
    assert translator.translate("Un pingouin.", "fr") == Translation("penguin", 1.0)
    assert translator.translate("Un jars.", "fr") == Translation("goose", 1.0)
    assert translator.translate("Une grenouille verte.", "fr").english == "frog green"
    assert translator.translate("Un zorglub.", "fr") == Translation("zorglub", 0.0)


def test_setup_installs_every_debian_package_translation_reads():
    """The code names its Debian packages in one place each; the set-up must install them all,
    or a fresh machine reads Spanish word by word without a word said."""
    from pathlib import Path

    from retrieval import translation

    setup = (Path(__file__).parents[1] / "scripts" / "setup.sh").read_text()
    needed = machine_translation.DEBIAN_PACKAGES + translation.DEBIAN_PACKAGES
    named = set(re.findall(r"[a-z0-9][a-z0-9.+-]*", setup))
    assert [p for p in needed if p not in named] == []
