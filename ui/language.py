"""The user's language setting: how their speech is heard, their questions read and their
answers worded. "Tell from what I say" (the default) leaves it to Whisper and the language
identifier, with the languages the browser asks pages in as the ones to tell speech among; a
chosen language is remembered by the browser."""

from __future__ import annotations

import re
from collections.abc import Mapping

import gradio as gr

from assistant.locales import LANGUAGES

NATIVE_NAMES = {
    "en": "English", "zh": "中文", "es": "Español", "fr": "Français", "de": "Deutsch",
    "ru": "Русский", "ja": "日本語",
}  # fmt: skip
TELL = ("Tell from what I say", "")
CHOICES = [TELL, *((NATIVE_NAMES.get(code, code), code) for code in LANGUAGES)]


def language_setting() -> gr.Dropdown:
    """The "Your language" choice."""
    return gr.Dropdown(
        CHOICES,
        value="",
        label="Your language",
        info="Your speech is heard in it and answers are given in it (speech in a language "
        "other than English goes to the larger multilingual Whisper). Left to tell, your speech "
        "is heard among the languages your browser asks pages in.",
        elem_id="language",
    )


def chosen_language(value: str | None) -> str:
    """A language code the assistant speaks, or "" (tell from what is said) for anything else
    (an old or tampered browser memory)."""
    return value if value in LANGUAGES else ""


_RANGE = re.compile(r"^\s*([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def browser_languages(headers: Mapping[str, str] | None) -> tuple[str, ...]:
    """The languages a browser asks pages in (its ``Accept-Language`` header, RFC 9110), as
    ISO 639 codes, most preferred first: "fr-FR,fr;q=0.9,en-US;q=0.8" -> ("fr", "en"). Ranges
    that do not parse, "*" and q=0 are left out; no header gives ()."""
    header = (headers or {}).get("accept-language") or ""
    ranked: list[tuple[float, str]] = []
    for part in header[:1000].split(","):
        found = _RANGE.match(part)
        if not found:
            continue
        try:
            weight = float(found.group(2)) if found.group(2) else 1.0
        except ValueError:
            continue
        if weight > 0:
            ranked.append((weight, found.group(1).lower()))
    ranked.sort(key=lambda pair: -pair[0])  # stable: equal weights keep the header's order
    return tuple(dict.fromkeys(code for _, code in ranked))
