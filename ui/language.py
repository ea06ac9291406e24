"""The user's language setting: how their speech is heard, their questions read and their
answers worded. "Tell from what I say" (the default) leaves it to Whisper and the language
identifier; a chosen language is remembered by the browser."""

from __future__ import annotations

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
        "other than English goes to the larger multilingual Whisper).",
        elem_id="language",
    )


def chosen_language(value: str | None) -> str:
    """A language code the assistant speaks, or "" (tell from what is said) for anything else
    (an old or tampered browser memory)."""
    return value if value in LANGUAGES else ""
