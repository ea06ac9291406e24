"""WordNet's noun hierarchy (retrieval/wordnet.py), on Debian's real database and on a tiny one
written here in its format."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from retrieval.wordnet import DEBIAN_PACKAGE, WORDNET_DIR, WordNet

needs_wordnet = pytest.mark.skipif(
    not (WORDNET_DIR / "index.noun").is_file(),
    reason="WordNet is not installed (scripts/setup.sh installs Debian's wordnet-base)",
)


@needs_wordnet
@pytest.mark.parametrize(
    ("word", "kind", "expected"),
    [
        ("banana", "food", True),  # its second sense, the fruit (the first is the plant)
        ("apple", "fruit", True),
        ("pigeon", "bird", True),
        ("pigeons", "animal", True),  # a plural by its singular
        ("geese", "bird", True),  # an irregular one (noun.exc)
        ("pigeon", "food", False),
        ("duck", "food", False),  # its food sense is only the third
        ("tractor", "vehicle", True),
        ("Saturn", "planet", True),  # an instance
        ("frog", "bird", False),
        ("ice cream", "food", True),  # a phrase WordNet holds
        ("zorglub", "food", False),
        ("banana", "zorglub", False),
    ],
)
def test_kinds_of_things_follow_the_hierarchy(word, kind, expected):
    assert WordNet().is_kind_of(word, kind) is expected


@needs_wordnet
def test_only_the_commonest_senses_count():
    wordnet = WordNet()
    assert not wordnet.is_kind_of("duck", "food")
    assert wordnet.is_kind_of("duck", "food", senses=3)  # "flesh of a duck"


def _synset(offset: int, word: str, parent: int | None) -> str:
    pointers = f"001 @ {parent:08d} n 0000" if parent is not None else "000"
    return f"{offset:08d} 03 n 01 {word} 0 {pointers} | a gloss"


def test_a_database_in_wordnets_format_is_read_by_offset(tmp_path):
    """A hand-written three-level hierarchy: a spaniel is a dog is an animal."""
    lines, offsets = [], {}
    for word, parent in (("animal", None), ("dog", "animal"), ("spaniel", "dog")):
        offsets[word] = sum(len(line) + 1 for line in lines)
        lines.append(_synset(offsets[word], word, offsets.get(parent) if parent else None))
    # every offset is the line's byte position, so each line is written at its own width
    (tmp_path / "data.noun").write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = [f"{w} n 1 1 @ 1 0 {offsets[w]:08d}" for w in sorted(offsets)]
    (tmp_path / "index.noun").write_text("  1 licence\n" + "\n".join(index) + "\n")
    wordnet = WordNet(tmp_path)
    assert wordnet.is_kind_of("spaniels", "animal") and wordnet.is_kind_of("dog", "dog")
    assert not wordnet.is_kind_of("animal", "dog")
    assert wordnet.kinds(offsets["spaniel"]) == {offsets["dog"], offsets["animal"]}


def test_a_missing_database_knows_no_word_and_says_how_to_install_it(tmp_path, caplog):
    wordnet = WordNet(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert not wordnet.available() and not wordnet.knows("dog")
        assert not wordnet.is_kind_of("dog", "animal")
    assert sum("apt-get install wordnet-base" in r.getMessage() for r in caplog.records) == 1


def test_setup_installs_wordnet():
    setup = (Path(__file__).parents[1] / "scripts" / "setup.sh").read_text()
    assert DEBIAN_PACKAGE in re.findall(r"[a-z0-9][a-z0-9.+-]*", setup)
