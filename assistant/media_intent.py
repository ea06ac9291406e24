"""The kind of media a question asks for: "pictures of frogs" wants images, "can I hear a
frog?" and "你们有青蛙的录音吗？" want recordings, "vidéos de chats" wants videos; "a frog" wants
whatever the library has. In English, Chinese, Spanish, French, German, Russian and Japanese.

The word lists are also what ``assistant.request_phrasing`` and ``assistant.router`` strip
from a question before it is searched, so a media word is never searched for as a thing.
"""

from __future__ import annotations

import re

from retrieval.items import Modality

# The nouns for each kind of media, per language (regular expressions, no capturing groups).
MEDIA_NOUNS: dict[str, dict[Modality, str]] = {
    "en": {
        "image": r"pictures?|images?|photos?|photographs?|drawings?|paintings?|stamps?",
        "audio": r"sounds?|recordings?|audio|noises?",
        "video": r"videos?|movies?|films?",
    },
    "fr": {
        "image": r"images?|photos?|photographies?|dessins?|illustrations?",
        "audio": r"sons?|enregistrements?|bruits?",
        "video": r"vid[ée]os?|films?",
    },
    "es": {
        "image": r"im[aá]gen(?:es)?|fotos?|fotograf[ií]as?|dibujos?",
        "audio": r"sonidos?|grabaci[oó]n|grabaciones|ruidos?",
        "video": r"v[ií]deos?|pel[ií]culas?",
    },
    "de": {
        "image": r"bilder[n]?|bild|fotos?|zeichnungen?",
        "audio": r"aufnahmen?|ger[äa]usche?|kl[äa]nge?",
        "video": r"videos?|filme?",
    },
    "ru": {
        "image": r"картин\w*|изображени\w*|фото\w*|рисун\w*|снимк\w*|снимок",
        "audio": r"звук\w*|запис\w*",
        "video": r"видео\w*|фильм\w*|ролик\w*",
    },
    "zh": {
        "image": r"图片|照片|图像|图画|相片|画|图",
        "audio": r"声音|录音|音频",
        "video": r"视频|影片|录像",
    },
    "ja": {
        "image": r"写真|画像|絵|イラスト",
        "audio": r"録音|音声|音",
        "video": r"動画|ビデオ|映像",
    },
}

# Verbs that ask to hear something: "can I hear a frog?", "what does a frog sound like?".
_LISTENING = {
    "en": r"hear|listen(?:\s+to)?|sounds?\s+like",
    "fr": r"entendre|[ée]couter",
    "es": r"o[ií]r|escuchar|suena",
    "de": r"h[öo]ren|anh[öo]ren|klingt",
    "ru": r"послушать|услышать|слушать|звучит",
    "zh": r"听",
    "ja": r"聞",
}
_SCRIPT_WITHOUT_SPACES = frozenset({"zh", "ja"})


def media_nouns(language: str) -> str:
    """Every media noun of ``language`` as one alternation (no capturing group), for stripping
    them from a question; an empty string for a language without a list."""
    return "|".join(MEDIA_NOUNS.get(language, {}).values())


def _as_words(pattern: str, language: str) -> re.Pattern[str]:
    if language in _SCRIPT_WITHOUT_SPACES:
        return re.compile(f"(?:{pattern})")
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.I)


_PATTERNS: dict[str, dict[Modality, re.Pattern[str]]] = {
    language: {
        modality: _as_words(
            f"{pattern}|{_LISTENING[language]}" if modality == "audio" else pattern, language
        )
        for modality, pattern in nouns.items()
    }
    for language, nouns in MEDIA_NOUNS.items()
}


def wanted_modality(question: str, language: str = "en") -> Modality | None:
    """The one kind of media ``question`` asks for ("image", "audio" or "video"), or None when
    it names none, or several ("pictures and sounds of frogs"), or its language has no list."""
    named = [m for m, p in _PATTERNS.get(language, {}).items() if p.search(question)]
    return named[0] if len(named) == 1 else None
