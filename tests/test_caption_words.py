"""Word matches with the items' captions in the question's language (retrieval.caption_words),
and the index taking them into its ranking (issue 15: spoken French and Spanish descriptions
found their stamp in the top 10 half the time; their words are the stamp's own caption)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.caption_words import WORD_MATCH_WEIGHT, CaptionWords, caption_words
from retrieval.index import MediaIndex
from retrieval.items import MediaItem, caption_key

FRENCH = {
    "frog": "Une grenouille.",
    "ladybug": "Une coccinelle.",
    "peg": "Une pince à linge à l'ancienne.",
    "pants": "Un pantalon.",
    "mantis": "Une mante religieuse.",
    "cream": "Une crème glacée.",
    "rooster": "Un coq multicolore.",
}


@pytest.fixture(scope="module")
def french() -> CaptionWords:
    return CaptionWords(list(FRENCH), list(FRENCH.values()), "fr")


def test_the_caption_itself_is_a_full_match(french):
    assert french.match("Une coccinelle.") == {"ladybug": 1.0}


def test_words_are_compared_by_lemma_case_and_accent(french):
    assert next(iter(french.match("des GRENOUILLES"))) == "frog"  # plural, capitals
    assert next(iter(french.match("creme glacee"))) == "cream"  # no accents, as heard


def test_a_misheard_word_leaves_the_rest_to_match(french):
    """Whisper heard "une montre religieuse" for "une mante religieuse"."""
    found = french.match("une montre religieuse")
    assert next(iter(found)) == "mantis"
    assert 0.3 < found["mantis"] < 1.0


def test_a_word_heard_a_little_wrong_still_counts_for_the_letters_it_shares(french):
    """Whisper base heard "un coque multicolour" for "Un coq multicolore." (a DEV recording):
    no word is the same, but their three-letter pieces are."""
    found = french.match("un coque multicolour")
    assert next(iter(found)) == "rooster" and found["rooster"] > 0.4
    assert caption_words("coq", "fr") == ["coq", "#co", "coq", "oq#"]  # the word, its pieces


def test_shared_small_words_are_no_match(french):
    assert french.match("une") == {}
    assert french.match("un chapeau") == {}  # "un" alone is shared, "chapeau" is not
    assert french.match("") == {}


def test_chinese_and_japanese_are_compared_by_characters():
    chinese = CaptionWords(["frog", "sheep"], ["青蛙。", "一只绵羊。"], "zh")
    assert chinese.match("绵羊") == {"sheep": pytest.approx(0.6, abs=0.1)}
    assert next(iter(chinese.match("青蛙"))) == "frog"
    assert caption_words("一只,绵羊", "zh") == ["一", "只", "绵", "羊", "一只", "绵羊"]  # no "只绵"


def test_a_language_the_lemmatiser_does_not_know_still_matches_word_for_word():
    korean = CaptionWords(["frog"], ["개구리"], "ko")
    assert korean.match("개구리") == {"frog": 1.0}


def test_an_empty_library_matches_nothing():
    assert CaptionWords([], [], "fr").match("une grenouille") == {}


def _item(name: str, caption: str, french: str | None) -> MediaItem:
    metadata = {caption_key("fr"): french} if french else {}
    return MediaItem(name, "image", f"/{name}.png", caption, "test", metadata)


def test_the_index_ranks_an_item_whose_caption_says_the_words(tmp_path):
    """A real Chroma index: the ladybug's vector is not the query's nearest (nor among the k
    nearest asked for), but its French caption is what was asked, so it comes first; its score
    is its cosine plus the word match's weight; a ``where`` filter still applies to it."""
    index = MediaIndex(tmp_path / "index", encoder_name="toy", dim=3)
    vectors = np.eye(3, dtype=np.float32)
    index.add(
        [
            _item("frog", "A frog.", "Une grenouille."),
            _item("ladybug", "A ladybug.", "Une coccinelle."),
            _item("tractor", "A tractor.", None),
        ],
        vectors,
    )
    query = np.array([0.55, 0.45, 0.3], dtype=np.float32)
    query /= np.linalg.norm(query)  # cosines: frog 0.71, ladybug 0.58, tractor 0.39
    assert [h.item_id for h in index.query(query, k=1)] == ["frog"]
    ids, captions = index.captions_in("fr")
    assert sorted(ids) == ["frog", "ladybug"]
    match = CaptionWords(ids, captions, "fr").match("une coccinelle")
    hits = index.query(query, k=1, word_match=match)
    assert [h.item_id for h in hits] == ["ladybug"]
    assert hits[0].score == pytest.approx(query[1] + WORD_MATCH_WEIGHT * match["ladybug"], abs=1e-5)
    audio_only = index.query(query, k=3, where={"modality": "audio"}, word_match=match)
    assert audio_only == []
