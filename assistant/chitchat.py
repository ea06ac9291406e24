"""Messages that are not searches: thanks, greetings, goodbyes, questions about the assistant
itself and requests it cannot serve (weather, news). They get a short reply, not a search."""

from __future__ import annotations

import re

CAPABILITIES = (
    "I search this library's pictures, sounds and their captions. Ask for something "
    "(“show me a frog”, “do you have anything red?”), send a picture to find what looks like "
    "it, or press the microphone and ask aloud. Like what you enjoy and the recommendations "
    "follow your taste."
)
_CLOSING = r"[\s!.,:;)(]*(😊|🙂|👍)?[\s!.]*$"
_THANKS = re.compile(
    r"^\s*(ok(ay)?[, ]+)?(thanks?|thank you|thx|ty|cheers|much appreciated)"
    r"( (so|very) much| a lot| again)?" + _CLOSING,
    re.I,
)
_APPROVAL = re.compile(r"^\s*(great|cool|nice|awesome|perfect|ok(ay)?|got it|wow)" + _CLOSING, re.I)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))( there| again)?" + _CLOSING,
    re.I,
)
_GOODBYE = re.compile(r"^\s*(bye|goodbye|see you( later)?|good night)" + _CLOSING, re.I)
_ABOUT_ASSISTANT = re.compile(
    r"^\s*(who are you|what are you|what can (you|i) do|what do you do|help|how does (this|it)"
    r" work|how do i use (this|you))[\s?!.]*$",
    re.I,
)
_OUT_OF_SCOPE = re.compile(
    r"\b(weather|forecast|stock prices?|exchange rate|the news|what time is it|what day is it"
    r"|today's date|tell me a joke|set (an? )?(alarm|timer|reminder))\b",
    re.I,
)


def chat_reply(text: str) -> str | None:
    """The reply to a message that is not a search, or None when it should be searched."""
    if _THANKS.match(text):
        return "You're welcome! Ask for anything else you'd like to see or hear."
    if _GREETING.match(text):
        return "Hello! " + CAPABILITIES
    if _GOODBYE.match(text):
        return "Goodbye! Your likes are kept for next time."
    if _APPROVAL.match(text):
        return "Glad it helps. What would you like to find next?"
    if _ABOUT_ASSISTANT.match(text):
        return CAPABILITIES
    if _OUT_OF_SCOPE.search(text):
        return "I can't help with that: I only know this media library. " + CAPABILITIES
    return None
