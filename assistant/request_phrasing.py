"""The request phrasing of questions in other languages, so that what is searched is the thing
asked for ("avez-vous des images de chevaux ?" -> "des chevaux", "你们有猫的图片吗？" -> "猫"),
not the whole question: the words for "pictures" and "do you have" pull every such question
towards cameras and letters. English has its own, richer rules in ``assistant.router``."""

from __future__ import annotations

import re

from assistant.media_intent import media_nouns

_FR_MEDIA, _ES_MEDIA, _DE_MEDIA, _RU_MEDIA, _ZH_MEDIA, _JA_MEDIA = (
    f"({media_nouns(language)})" for language in ("fr", "es", "de", "ru", "zh", "ja")
)

# Each language: what a request may open with, and what it may close with. The subject is what
# is left in between.
_OPENINGS = {
    "fr": re.compile(
        r"^\s*(est-ce que\s+)?(s'il (te|vous) pla[iî]t,?\s+)?"
        r"(vous avez|avez-vous|as-tu|tu as|auriez-vous|aurais-tu|y a-t-il|il y a|"
        r"montre[sz]?[- ]moi|fais[- ]moi voir|je cherche|je voudrais( voir)?|j'aimerais( voir)?|"
        r"cherche|trouve[sz]?[- ]moi|(peux|pourrais)-tu me montrer|"
        r"(pouvez|pourriez)-vous me montrer|je veux( voir)?)\s*"
        r"((des|une?|les?|la|du|quelques)\s+)?"
        r"(" + _FR_MEDIA + r"\s+(de|d'|du|des|avec|montrant)\s*)?",
        re.I,
    ),
    "es": re.compile(
        r"^\s*¿?\s*(por favor,?\s+)?"
        r"(tienes|tiene|tienen|ten[eé]is|hay|mu[eé]strame|mu[eé]streme|ens[eé][ñn]ame|"
        r"quiero ver|quiero|busco|estoy buscando|me gustar[ií]a ver|"
        r"(puedes|podr[ií]as) mostrarme|(puede|podr[ií]a) mostrarme)\s*"
        r"((alg[uú]n|algunas?|algunos|unas?|unos?|las?|los?|el)\s+)?"
        r"(" + _ES_MEDIA + r"\s+(de|del|con)\s*)?",
        re.I,
    ),
    "de": re.compile(
        r"^\s*(bitte,?\s+)?"
        r"(hast du|haben sie|habt ihr|gibt es|zeig( mir)?|zeigen sie( mir)?|ich suche|"
        r"ich m[öo]chte( gern)?( sehen)?|ich will( sehen)?|kannst du mir|k[öo]nnen sie mir)\s*"
        r"((ein|eine|einen|einige|irgendwelche|die|das|den)\s+)?"
        r"(" + _DE_MEDIA + r"\s+(von|vom|mit|eines|einer)?\s*)?",
        re.I,
    ),
    "ru": re.compile(
        r"^\s*(пожалуйста,?\s+)?"
        r"(у (вас|тебя) есть|есть ли( у (вас|тебя))?|есть|покажи(те)?( мне)?|я ищу|"
        r"найди(те)?( мне)?|хочу (увидеть|посмотреть)|можно (увидеть|посмотреть))\s*"
        r"((какие-нибудь|какие-то)\s+)?"
        r"(" + _RU_MEDIA + r"\s+(с|со|про)?\s*)?",
        re.I,
    ),
    "zh": re.compile(
        r"^\s*(请(问)?)?\s*(你们|你|您)?\s*(这里|这儿)?\s*"
        r"(有没有|有无|有|给我看看?|让我看看?|我想(要)?看看?|我想(要)?找|我要找|帮我找|找|显示)\s*"
        r"(一些|一张|一个|一只|几张)?"
    ),
    "ja": re.compile(r"^\s*(すみません[、,]?\s*)?"),
}
_CLOSINGS = {
    "fr": re.compile(r"\s*(,?\s*s'il (te|vous) pla[iî]t)?\s*[?!.]*\s*$", re.I),
    "es": re.compile(r"\s*(,?\s*por favor)?\s*[?!.]*\s*$", re.I),
    "de": re.compile(r"\s*(,?\s*bitte)?\s*(zeigen|sehen)?\s*[?!.]*\s*$", re.I),
    "ru": re.compile(r"\s*(,?\s*пожалуйста)?\s*[?!.]*\s*$", re.I),
    "zh": re.compile(r"(的)?" + _ZH_MEDIA + r"?\s*(吗|呢|吧)?\s*[？?！!。.]*\s*$"),
    "ja": re.compile(
        r"(の" + _JA_MEDIA + r")?\s*(は|が|を)?\s*"
        r"(ありますか|ある|ありませんか|見せて(ください|下さい)?|見たい(です)?|探しています|"
        r"ください|下さい)?\s*[？?！!。.]*\s*$"
    ),
}


def strip_request(question: str, language: str) -> str | None:
    """The thing a question in ``language`` asks for, with its request phrasing removed;
    None where this module has no rules for the language (or nothing would be left)."""
    opening, closing = _OPENINGS.get(language), _CLOSINGS.get(language)
    if opening is None or closing is None:
        return None
    phrase = closing.sub("", question.strip())
    phrase = opening.sub("", phrase, count=1)
    phrase = closing.sub("", phrase).strip(" ,、，")
    return phrase or None
