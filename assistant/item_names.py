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
    if language == "fr" and _elided_article(first):  # "L'arbre"
        return "l" + name[1:]
    if first.lower() in ARTICLES.get(language, ()) and rest:
        return first.lower() + space + rest
    if common and language in _LOWERCASE_NOUNS and len(name) > 1 and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def names_a_thing(english: str) -> bool:
    """Whether an English caption names a thing rather than a name ("A frog." not
    "Saturn."): it opens with an article."""
    return _opens_with_article(english, "en")


def item_names_a_thing(document: Document) -> bool:
    """Whether an item's caption names a thing rather than a name: an English caption (or one
    of unknown language) where it opens with an article; a caption in another language where
    it, or the item's caption in any language with articles, opens with one. A recording
    captioned in Bulgarian ("Лешояд.") names a thing by its French "Un vautour."."""
    own = str(document.metadata.get("caption_language") or "en")
    if own == "en":
        return names_a_thing(document.page_content)
    captions = {**(document.metadata.get("translations") or {}), own: document.page_content}
    return any(
        _opens_with_article(str(captions.get(language, "")), language) for language in ARTICLES
    )


def _opens_with_article(caption: str, language: str) -> bool:
    first = caption.strip().partition(" ")[0]
    return first.lower() in ARTICLES[language] or (language == "fr" and _elided_article(first))


def _elided_article(word: str) -> bool:
    """A French word opening with the elided article: "L'arbre"."""
    return word[:2] in ("L'", "L’", "l'", "l’") and len(word) > 2
