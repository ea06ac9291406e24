"""An item's name in the asker's language: its own translated caption where it carries one
(a Tux Paint sidecar's ``fr.utf8=Une grenouille.``, a manifest's ``caption_fr`` column), cased
as the middle of a sentence in that language ("Voici une grenouille [1]")."""

from __future__ import annotations

from langchain_core.documents import Document

# What a person calls an item of each modality ("the picture img-0042.png", "12 pictures").
KIND_NAMES = {"image": "picture", "audio": "sound", "video": "video", "text": "text"}
# Words that open a caption and are lowercased mid-sentence: the rest of the caption keeps its
# capitals (a name, a German noun).
ARTICLES = {
    "en": frozenset({"a", "an", "the", "some"}),
    "fr": frozenset({"un", "une", "le", "la", "les", "des", "du"}),
    "es": frozenset({"un", "una", "unos", "unas", "el", "la", "los", "las"}),
    "de": frozenset({"ein", "eine", "einige", "der", "die", "das"}),
}
# Languages whose common nouns are lowercase mid-sentence while their captions open with a
# capital ("Лягушка." -> "вот лягушка"); German nouns keep theirs, Chinese and Japanese have none.
_LOWERCASE_NOUNS = frozenset({"fr", "es", "ru"})


def translated_caption(document: Document, language: str) -> str:
    """The item's own caption in ``language`` ("" where it has none)."""
    if language == "en":
        return ""
    translations = document.metadata.get("translations") or {}
    return str(translations.get(language, "")).strip()


def mid_sentence(name: str, language: str, common: bool) -> str:
    """A caption's opening cased for the middle of a sentence in ``language``: an article is
    lowercased ("A frog" -> "a frog", "Ein Frosch" -> "ein Frosch"), and where ``common`` (the
    English caption names a thing, not a name: it opens with an article) so is the first
    letter in languages that lowercase common nouns ("Лягушка" -> "лягушка"); names keep
    their capitals ("Saturn", "Сатурн")."""
    first, space, rest = name.partition(" ")
    if language == "fr" and first[:2] in ("L'", "L’") and len(first) > 2:  # "L'arbre"
        return "l" + name[1:]
    if first.lower() in ARTICLES.get(language, ()) and rest:
        return first.lower() + space + rest
    if common and language in _LOWERCASE_NOUNS and len(name) > 1 and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def names_a_thing(english: str) -> bool:
    """Whether an English caption names a thing rather than a name ("A frog." not
    "Saturn."): it opens with an article."""
    return english.strip().partition(" ")[0].lower() in ARTICLES["en"]
