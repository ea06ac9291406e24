"""What an answer may say, decided before any model writes a word: the grade of the best match
(calibrated per library, encoder and query kind), the items the answer may cite, and the
sentence shapes that fit. The model then writes within those shapes (a llama.cpp grammar admits
only the listed openings and the retrieved items' own names, each with its number); any model's
text is checked against the same plan, and a template answer takes its place if it fails. So
the answer and the results never disagree, and nothing shown is withdrawn later.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

from assistant.calibration import Calibration, Grade, subject_of, without_article, words_of
from assistant.item_names import (
    KIND_NAMES,
    item_names_a_thing,
    mid_sentence,
    names_a_thing,
    translated_caption,
)
from assistant.locales import phrases, quoted, spaced_punctuation
from retrieval.video import format_moment
from retrieval.wordnet import WordNet

MAX_CAPTION_CHARS = 160
MAX_EVIDENCE_CHARS = 120  # words heard or read, quoted after an item
MAX_QUOTED_CHARS = 80  # of a question a "not found" answer quotes
MAX_CITED = 3
MAX_CANDIDATES = 4  # items the model may choose from (the grammar lists their orders)
_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompt|rules|above|previous)"
    r"|\b(system prompt|you are now|new instructions|act as|jailbreak)\b",
    re.I,
)
WITHHELD = "(caption withheld: it contains instructions)"
_ABOUT = re.compile(r"^\s*(tell me (more )?about|what is|what's|who is|describe|explain)\b", re.I)
_CITATION = re.compile(r"\[(\d{1,2})\]")
_CLAUSE_END = (
    r"[.;:!?]\s|[。！？；]|\s[\u2014\u2013-]\s|\u2014"  # where a caption's first clause ends
)
# Words an answer may use besides the question's and the cited captions' own.
_LINKING = frozenset(
    "yes no i have here is are a an the and or of this that these those some one two three "  # noqa: SIM905
    "closest thing things nothing exactly like looks look more found library picture pictures "
    "image images sound sounds photo photos drawing drawings about it its with in on for to as "
    "also there what which you can see hear".split()
)


@dataclass(frozen=True)
class AnswerPlan:
    """The grade, what was asked for, and the context items (1-based) the answer may cite:
    ``lead`` first (the ones a template names), then ``also`` (the model may pick these too)."""

    grade: Grade
    kind: str
    subject: str
    lead: list[int] = field(default_factory=list)
    also: list[int] = field(default_factory=list)
    about: str = ""  # a follow-up: the earlier item it takes, quoted ("“A frog” (result 2)")
    describe: bool = False  # "Tell me about X": name items by their whole caption
    language: str = "en"  # the question's: the answer's fixed sentences are in it
    matches: list[int] = field(default_factory=list)  # every item that is what was asked for
    # (a confident answer's): those the answer does not name are counted after it
    missing: list[str] = field(default_factory=list)  # of a list of things, those not found

    @property
    def citable(self) -> list[int]:
        return [*self.lead, *self.also]


def safe_caption(caption: str) -> str:
    """A caption as a model may see it: one line, cut short, withheld if it reads like orders."""
    line = " ".join(caption.split())[:MAX_CAPTION_CHARS] or "(no caption)"
    return WITHHELD if _INSTRUCTION_LIKE.search(line) else line


def item_caption(document: Document, language: str = "en") -> str:
    """The caption an answer in ``language`` names the item by: its own translation where it
    has one that reads as a caption, else the caption as it is."""
    translated = translated_caption(document, language)
    if translated and safe_caption(translated) != WITHHELD:
        return translated
    return document.page_content


def item_phrase(document: Document, whole: bool = False, language: str = "en") -> str:
    """How an answer names an item mid-sentence: "a black cat" from "A black cat.", its first
    clause unless ``whole`` (then the caption up to its end), else its file name; in
    ``language``, by the item's own translation where it has one ("une grenouille")."""
    text = item_caption(document, language)
    caption = safe_caption(text)
    if caption == WITHHELD or not text.strip():
        return unnamed_phrase(document)
    if not whole:
        caption = re.split(_CLAUSE_END, caption + " ", maxsplit=1)[0]
    caption = caption.strip().rstrip(".!?;:,。！？；，")
    if text != translated_caption(document, language):  # the caption as it is: English articles
        return mid_sentence(caption, "en", common=False)
    return mid_sentence(caption, language, common=item_names_a_thing(document))


def example_names(captions: Sequence[str], count: int) -> tuple[str, ...]:
    """Up to ``count`` different items named as an overview lists them ("a black cat"): those
    whose caption names a thing first (not a sentence such as "Penguins are wining!"), never
    one withheld for giving orders."""
    usable = [c for c in captions if c.strip() and safe_caption(c) != WITHHELD]
    ordered = sorted(usable, key=lambda c: not names_a_thing(c))  # stable: order kept within
    names = dict.fromkeys(item_phrase(Document(page_content=c)) for c in ordered)
    return tuple(names)[:count]


def unnamed_phrase(document: Document) -> str:
    """An item without a usable caption, by its kind and file name ("the picture
    img-0042.png"): never a made-up description."""
    uri = str(document.metadata.get("uri") or "")
    name = Path(uri).name if uri else str(document.metadata.get("item_id", "an item"))
    modality = document.metadata.get("modality")
    kind = KIND_NAMES.get(modality, "item") if modality != "text" else "item"
    return f"the {kind} {name}"


def item_words(document: Document, generated: bool = True) -> set[str]:
    """The words that name an item: its caption's (else its name's) and what was found in it
    (words heard in a video, text read in a picture, its picture's colours, and unless
    ``generated`` is False its generated description), without the phrasing an answer puts
    around them."""
    text = document.page_content
    if not text.strip() or safe_caption(text) == WITHHELD:
        text = unnamed_phrase(document)
    colours = str(document.metadata.get("colours") or "")
    return words_of(text) | words_of(evidence_text(document, generated)) | words_of(colours)


def evidence_text(document: Document, generated: bool = True) -> str:
    """What was found in an item beyond its caption, as plain text: the words heard where a
    video matched, the text read in a picture, an uncaptioned picture's generated
    description (unless ``generated`` is False)."""
    heard, read, described = _evidence(document, generated)
    return " ".join(filter(None, (heard, read, described)))


def _evidence(document: Document, generated: bool = True) -> tuple[str, str, str]:
    """(words heard where a video matched, text read in the picture, generated description
    of an uncaptioned picture unless ``generated`` is False): each one line, cut short, and
    withheld ("") if it reads like orders."""
    meta = document.metadata

    def clean(value: object) -> str:
        line = " ".join(str(value or "").split())[:MAX_EVIDENCE_CHARS]
        return "" if safe_caption(line) == WITHHELD else line

    heard = clean(meta.get("part_text")) if meta.get("part") == "speech" else ""
    uncaptioned = generated and not document.page_content.strip()
    described = clean(meta.get("description")) if uncaptioned else ""
    return heard, clean(meta.get("picture_text")), described


def _answer_words(document: Document, language: str) -> set[str]:
    """The words an answer may use for an item: those naming it and the phrasing of its
    evidence in ``language`` (" at 0:05, where it says ...")."""
    named = words_of(item_caption(document, language))
    return item_words(document) | named | words_of(evidence_phrase(document, language))


def _mentions(subject: str, documents: Sequence[Document], generated: bool = True) -> bool:
    """Whether the subject's main word is a word of one of the first three items (their
    captions and evidence: words heard, text read, and unless ``generated`` is False a
    generated description)."""
    words = [w for w in re.findall(r"[a-z]+", subject.lower()) if w not in _LINKING]
    if not words:
        return False
    head = words[-1]
    forms = {head, head[:-1] if head.endswith("s") else head}
    return any(forms & item_words(d, generated) for d in documents[:3])


def kinds_of(subject: str, documents: Sequence[Document], wordnet: WordNet) -> list[int] | None:
    """The numbers of the items whose caption's subject is a kind of ``subject`` ("a food":
    "A banana.", not "A pigeon."), or None where WordNet does not hold the subject as a noun
    ("a flying animal"), so nothing can be said."""
    kind = without_article(subject.lower()).strip(" ?!.")
    if not kind or not wordnet.knows(kind):
        return None
    found = []
    for n, document in enumerate(documents, 1):
        head = subject_of(document.page_content).split()
        if head and wordnet.is_kind_of(head[-1], kind):
            found.append(n)
    return found


def _named(documents: Sequence[Document]) -> bool:
    """Whether the first three items have captions to tell what they are."""
    return any(d.page_content.strip() for d in documents[:3])


def plan_answer(
    kind: str,
    subject: str,
    question: str,
    documents: Sequence[Document],
    calibration: Calibration,
    about: str = "",
    language: str = "en",
    subject_english: str = "",
    wordnet: WordNet | None = None,
    wanted: str | None = None,
) -> AnswerPlan:
    """The plan for one turn, answered in ``language``. A text query whose main word (or, for
    a question in another language, its dictionary translation's: ``subject_english``) is in
    a top caption is never "not found" (the results show it) and is confident once it is
    plausible. With ``wordnet``, an item whose caption names a kind of what was asked for ("a
    food": a banana, an apple) is a match too, and a question about a kind none of the named
    items is of is answered with the closest, not claimed. ``wanted``: the kind of media asked
    for ("pictures of frogs"): where the items to name hold some of that kind, only those are
    named and offered."""

    def mentions(found: Sequence[Document], generated: bool = True) -> bool:
        return any(_mentions(s, found, generated) for s in (subject, subject_english) if s)

    if not documents:
        return AnswerPlan("none", kind, subject, language=language)
    scores = [float(d.metadata.get("score", 0.0)) for d in documents]
    described_only = False  # only a generated description names the subject
    # what the captions can be checked against: the subject, or for a question in another
    # language its dictionary English ("" where the dictionary could not read it)
    read = subject if language == "en" else subject_english
    of_kind = (
        kinds_of(read, documents, wordnet)
        if wordnet is not None and kind in ("text", "category", "voice")
        else None
    )  # None: WordNet does not hold what was asked for
    if of_kind:
        # a kind scores as a broad question's subject does ("insects": a grasshopper), whatever
        # the question's phrasing: the broad cut, where it is the lower
        floor = min(calibration.cuts_for(k).plausible for k in (kind, "category"))
        of_kind = [n for n in of_kind if scores[n - 1] >= floor]
    if kind == "follow_up":  # "more like X": alike as a picture's twin is, else the nearest
        alike = calibration.grade("image", scores[0]) == "confident"
        grade: Grade = "confident" if alike else "closest"
    else:
        grade = calibration.grade(kind, scores[0])
        if kind in ("text", "category", "voice") and mentions(documents, False):
            grade = "confident" if grade != "none" else "closest"
        elif kind in ("text", "category", "voice") and mentions(documents):
            grade, described_only = "closest", True  # offered as the closest, not claimed
        elif grade == "confident" and kind in ("text", "voice") and read and _named(documents):
            grade = "closest"  # captions name what was found and none names the thing asked
            # for: a near thing ("a pig" -> a badger) is offered as the closest, not claimed
        if of_kind:  # "any food?": the banana and the apple, however the space ranks them
            grade = "confident"
        elif (
            of_kind is not None and kind == "category" and grade == "confident"
            and _named(documents) and not mentions(documents)
        ):  # fmt: skip
            grade = "closest"  # named items, none of the kind asked for: "a food" -> a pigeon
            # is offered as the closest, not claimed
    if grade == "none":
        return AnswerPlan("none", kind, subject, language=language)
    cuts = calibration.cuts_for(kind)
    floor = cuts.confident if grade == "confident" and kind != "follow_up" else cuts.plausible
    numbers = [n for n, s in enumerate(scores, 1) if s >= min(floor, scores[0])]
    matching = [n for n in range(1, len(documents) + 1) if mentions([documents[n - 1]])]
    if of_kind:
        numbers = sorted(set(numbers) | set(of_kind))
        matching = sorted(set(matching) | set(of_kind))
    if (
        (kind in ("text", "voice") or of_kind)
        and (grade == "confident" or described_only)
        and matching
    ):
        numbers = [n for n in numbers if n in matching] or matching[:1]  # the matches, not
        # their neighbours: "a guitar" is answered with guitars even if a violin is close
    numbers = _of_kind(_distinct(numbers, documents, language), documents, wanted)
    lead = numbers[: 1 if grade == "closest" else MAX_CITED]
    also = [n for n in range(1, min(len(documents), MAX_CITED + 1) + 1) if n not in lead]
    also = _distinct(
        lead + [n for n in also if scores[n - 1] >= cuts.plausible], documents, language
    )
    if wanted and lead and _modality(documents[lead[0] - 1]) == wanted:
        also = [n for n in also if _modality(documents[n - 1]) == wanted]  # none of another kind
    also = [n for n in also if n not in lead][: MAX_CANDIDATES - len(lead)]
    if kind in ("image", "composed"):  # a picture is answered by its nearest match first
        also = []
    elif (kind in ("text", "voice") or of_kind) and grade == "confident" and matching:
        also = [n for n in also if n in matching]
    describe = bool(_ABOUT.match(question)) and kind in ("text", "voice")
    confident = grade == "confident" and kind in ("text", "voice", "category")
    return AnswerPlan(
        grade, kind, subject, lead, also, about, describe, language, numbers if confident else []
    )


def more_sentence(plan: AnswerPlan, cited: Sequence[int]) -> str:
    """The sentence that follows an answer naming only some of the matches ("3 more are among
    the results."), in the plan's language; "" when it names them all."""
    left = len([n for n in plan.matches if n not in cited])
    if not left:
        return ""
    one, many = phrases(plan.language).more
    sentence = one if left == 1 else many.format(n=left)
    return sentence if plan.language in ("zh", "ja") else " " + sentence


def missing_sentence(plan: AnswerPlan) -> str:
    """The sentence that follows an answer to a list of things, naming those it found nothing
    for ("I found nothing for “a cow” and “a pig”."); "" when it found them all."""
    if not plan.missing:
        return ""
    said = phrases(plan.language)
    sentence = said.none_for.format(
        q=join_items([quoted(thing, plan.language) for thing in plan.missing], plan.language)
    )
    return sentence if plan.language in ("zh", "ja") else " " + sentence


def plan_listed(
    found: Sequence[int], missing: Sequence[str], subject: str, language: str
) -> AnswerPlan:
    """The plan of an answer to a list of things (router.listed_things), each searched on its
    own: the items found for them (numbers in the answer's documents), the rest named as not
    found; "none" when nothing was found for any."""
    if not found:
        return AnswerPlan("none", "category", subject, language=language)
    numbers = list(found)
    return AnswerPlan(
        "confident",
        "category",
        subject,
        lead=numbers[:MAX_CITED],
        language=language,
        matches=numbers,
        missing=list(missing),
    )


def _distinct(
    numbers: Sequence[int], documents: Sequence[Document], language: str = "en"
) -> list[int]:
    """The numbers of items that an answer in ``language`` names differently (two "A cow."
    pictures are named once); a sound named like a picture is another thing."""
    seen: set[tuple[str, object]] = set()
    kept = []
    for n in numbers:
        document = documents[n - 1]
        key = (item_phrase(document, whole=True, language=language).lower(), _modality(document))
        if key not in seen:
            seen.add(key)
            kept.append(n)
    return kept


def _of_kind(
    numbers: Sequence[int], documents: Sequence[Document], wanted: str | None
) -> list[int]:
    """Those of ``numbers`` whose item is of the ``wanted`` kind of media, where there are any;
    else all of them."""
    kept = [n for n in numbers if _modality(documents[n - 1]) == wanted]
    return kept or list(numbers)


def _modality(document: Document) -> object:
    return document.metadata.get("modality")


def kind_tag(plan: AnswerPlan, documents: Sequence[Document], n: int) -> str:
    """ " (sound)" after item ``n`` where the plan may cite several kinds of item (a picture and
    a sound of the same frog), in the plan's language; "" otherwise."""
    if len({_modality(documents[m - 1]) for m in plan.citable}) < 2:
        return ""
    return phrases(plan.language).kind_tag(_modality(documents[n - 1]))


def openings(plan: AnswerPlan) -> list[str]:
    """The ways an answer of this plan may begin, in its language (the template uses the
    first)."""
    said = phrases(plan.language)
    if plan.kind == "follow_up" and plan.grade == "closest":
        return [said.follow_up_closest.format(about=plan.about)]
    if plan.kind == "follow_up":
        return [o.format(about=plan.about) for o in said.follow_up]
    if plan.kind == "image":
        return list(said.image_found) if plan.grade == "confident" else [said.image_closest]
    if plan.grade == "closest":
        return [said.closest.format(q=quoted(plan.subject, plan.language))]
    if plan.describe:
        return list(said.describe)
    if plan.kind == "category":
        return list(said.category)
    return list(said.found)


def phrase_with_number(plan: AnswerPlan, documents: Sequence[Document], n: int) -> str:
    document = documents[n - 1]
    evidence = evidence_phrase(document, plan.language)
    tag = kind_tag(plan, documents, n)
    return f"{item_phrase(document, plan.describe, plan.language)}{evidence}{tag} [{n}]"


def evidence_phrase(document: Document, language: str = "en", generated: bool = True) -> str:
    """What an answer adds after an item's name to show where it was found: a video's moment
    (" at 0:42"), the words heard there, the text read in a picture, or for an uncaptioned
    picture its generated description (labelled as such); "" for the rest."""
    said = phrases(language)
    meta = document.metadata
    added = ""
    if meta.get("moment") is not None and meta.get("modality") == "video":
        added += said.at_moment.format(t=format_moment(float(meta["moment"])))
    heard, read, described = _evidence(document, generated)
    if heard:
        added += said.it_says.format(x=quoted(heard, language))
    if read:
        added += said.text_reads.format(x=quoted(read, language))
    if described:
        added += said.described_as.format(x=described.rstrip("."))
    return added


def join_items(parts: Sequence[str], language: str = "en") -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + phrases(language).and_ + parts[-1]


def template_answer(plan: AnswerPlan, documents: Sequence[Document]) -> str:
    """The answer a template writes from the plan (used when no model answer passes)."""
    if plan.grade == "none":
        return not_found_answer(plan)
    opening = openings(plan)[0]
    items = join_items([phrase_with_number(plan, documents, n) for n in plan.lead], plan.language)
    text = opening + items
    stop = phrases(plan.language).stop
    return (text[0].upper() + text[1:]).rstrip(".。") + stop


def not_found_answer(plan: AnswerPlan) -> str:
    said = phrases(plan.language)
    if plan.kind == "image":
        return said.not_found_image
    subject = clipped(" ".join(plan.subject.split()), MAX_QUOTED_CHARS) or "…"
    return said.not_found.format(q=quoted(subject, plan.language))


def clipped(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at the end of a word, with "…" where it was
    cut (text without spaces, such as Chinese, is cut at the limit)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    word_end = cut.rfind(" ")
    return (cut[:word_end] if word_end > limit // 2 else cut).rstrip(" ,;:") + "…"


def _gbnf(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def answer_grammar(plan: AnswerPlan, documents: Sequence[Document]) -> str:
    """A llama.cpp grammar admitting this plan's openings and up to three different items of
    the plan, each named by its own caption with its own number, then a full stop: every lead
    item (the matches the plan found), the best first, in any order after it, and perhaps a
    candidate besides."""
    opening = " | ".join(_gbnf(o) for o in openings(plan))
    names = {n: f"i{n}" for n in plan.citable}
    most = 1 if plan.grade == "closest" else MAX_CITED
    lists = [
        " ".join(_joined([names[n] for n in chosen], phrases(plan.language).and_))
        for size in range(1, most + 1)
        for chosen in itertools.permutations(plan.citable, size)
        if chosen[0] == plan.lead[0]  # the best match leads; the model chooses what follows
        and set(plan.lead) <= set(chosen)  # and names every match: none is left out
    ]
    rules = [
        f"root ::= opening items {_gbnf(phrases(plan.language).stop)}",
        f"opening ::= {opening}",
        "items ::= " + " | ".join(f"({option})" for option in lists),
    ]
    rules += [f"{names[n]} ::= {_gbnf(phrase_with_number(plan, documents, n))}" for n in names]
    return "\n".join(rules) + "\n"


def _joined(parts: list[str], and_: str = " and ") -> list[str]:
    """Grammar symbols of "a, b and c" (``and_``: the language's "and")."""
    out: list[str] = []
    for position, part in enumerate(parts):
        if position:
            out.append(_gbnf(and_) if position == len(parts) - 1 else '", "')
        out.append(part)
    return out


def check_answer(
    raw: str, plan: AnswerPlan, documents: Sequence[Document], question: str
) -> tuple[str, list[int]] | None:
    """A model's text made tidy with the citations it keeps, or None when it does not pass:
    it must cite only this plan's items and every one of its lead items (the matches found),
    each where the words before it belong to that item, use no word outside the question, the
    cited captions and linking words, and for a weaker match keep the plan's opening (it must
    not claim more than the results show)."""
    text = " ".join(raw.split()).strip()
    cited = [int(n) for n in _CITATION.findall(text)]
    if not cited or not set(cited) <= set(plan.citable) or len(text) < 4:
        return None
    if not set(plan.lead) <= set(cited):  # "I have a cat [1]" when [2] is a pigeon too
        return None
    if len(set(cited)) < len(cited):  # "a cow [1] and a cow [1]"
        return None
    if plan.grade != "confident" and not any(text.startswith(o) for o in openings(plan)):
        return None
    said = phrases(plan.language)
    fixed = " ".join([*openings(plan), said.and_, *said.kind_tags])
    linking = words_of(question) | _LINKING | words_of(fixed)
    allowed = set(linking)
    for n in cited:
        allowed |= _answer_words(documents[n - 1], plan.language)
    if not words_of(_CITATION.sub(" ", text)) <= allowed:
        return None
    start = 0
    for match in _CITATION.finditer(text):
        clause = words_of(text[start : match.start()]) - linking
        caption = _answer_words(documents[int(match.group(1)) - 1], plan.language)
        if clause and not clause & caption:
            return None
        start = match.end()
    text = spaced_punctuation(text, plan.language)
    if not text.endswith((".", "!", "?", said.stop)):
        text += said.stop
    return text, list(dict.fromkeys(cited))
