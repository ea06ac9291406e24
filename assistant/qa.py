"""The grounded QA chain: numbered context items -> prompt -> LLM -> citation parser.

The model may only answer from the retrieved items and must cite them as [n]. The parser keeps
the citations that point at items really in the context and above the relevance threshold and
drops the rest. An answer left without a valid citation is replaced by an extractive one built
from the relevant items, so every answer the user sees is grounded and cited (a small packaged
model often needs this; a stronger model rarely does). When no item reaches the threshold the
chain says so without asking the model. Retrieved captions are data: they are quoted one per
line, cut short, and a caption that reads like instructions to the model is withheld from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

MAX_CAPTION_CHARS = 160
# Cosine score below which a retrieved item is not relevant: chosen on the dev questions of
# bench/grounded_qa.py (0.700: balanced accuracy 0.905 on 124 in-library and 53 absent-thing
# questions, shipped default encoder); a stronger or another encoder may want its own.
DEFAULT_RELEVANCE_THRESHOLD = 0.70
# The same for broad questions ("What animals do you have?"), whose best match scores lower:
# chosen on the category questions of bench/grounded_qa.py (0.483: balanced accuracy only 0.663
# on 17 Tux Paint folder names vs 13 absent kinds of things: broad questions are hard to tell
# from absent ones with this encoder).
DEFAULT_CATEGORY_THRESHOLD = 0.48
_CITATION = re.compile(r"\[(\d{1,2})\]")
_INSTRUCTION_LIKE = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompt|rules|above|previous)"
    r"|\b(system prompt|you are now|new instructions|act as|jailbreak)\b",
    re.I,
)
WITHHELD = "(caption withheld: it contains instructions)"
_DENIAL = re.compile(r"^\s*(no\b|none\b|sorry\b|i (do not|don't|cannot|can't)\b)", re.I)
_STOPWORDS = frozenset(
    "the and with for this that there are have has you your yes not from some any".split()  # noqa: SIM905
)

PROMPT = PromptTemplate.from_template(
    """Answer each question using only the numbered library items. Cite the items you use as [n].
If none of the items answers the question, say that the library has nothing about it.

Items:
[1] A red apple.
[2] A toy car.
[3] A sailing boat.
Question: Do you have any fruit?
Answer: Yes, a red apple [1].

Items:
[1] A hammer.
[2] A saw.
[3] A rubber duck.
Question: What tools are there?
Answer: A hammer [1] and a saw [2].
{history}
Items:
{context}
Question: {question}
Answer:"""
)
STOP = ["\n"]

Grounding = Literal["model", "extractive", "not_found"]


@dataclass
class CitedAnswer:
    """An answer and the context items it cites (numbers are 1-based positions in the context)."""

    text: str
    citations: list[int] = field(default_factory=list)
    grounding: Grounding = "model"
    dropped_citations: list[int] = field(default_factory=list)


def prompt_caption(caption: str) -> str:
    """A caption as the model sees it: one line, cut short, withheld if it reads like orders."""
    line = " ".join(caption.split())[:MAX_CAPTION_CHARS] or "(no caption)"
    return WITHHELD if _INSTRUCTION_LIKE.search(line) else line


def format_context(documents: Sequence[Document]) -> str:
    """Numbered context lines, ``[n] caption (modality)``."""
    return "\n".join(
        f"[{n}] {prompt_caption(d.page_content)} ({d.metadata.get('modality', 'item')})"
        for n, d in enumerate(documents, start=1)
    )


def format_history(history: Sequence[tuple[str, str]]) -> str:
    """Earlier turns of the session, newest last, for follow-up questions."""
    if not history:
        return ""
    lines = [f"Earlier question: {q}\nEarlier answer: {a}" for q, a in history]
    return "\n" + "\n".join(lines) + "\n"


def relevant_numbers(documents: Sequence[Document], threshold: float) -> list[int]:
    """1-based positions of the context items whose score reaches the threshold."""
    return [
        n for n, d in enumerate(documents, start=1) if d.metadata.get("score", 0.0) >= threshold
    ]


def extractive_answer(documents: Sequence[Document], numbers: Sequence[int]) -> str:
    """ "I found: a badger [1], a brown bear [2]." from the relevant items themselves."""
    parts = []
    for n in numbers[:3]:
        caption = prompt_caption(documents[n - 1].page_content).rstrip(".")
        first, _, rest = caption.partition(" ")
        if first in ("A", "An", "The", "Some"):  # mid-sentence article; keep names capitalised
            caption = f"{first.lower()} {rest}"
        parts.append(f"{caption} [{n}]")
    return "I found: " + ", ".join(parts) + "."


def not_found_answer(question: str) -> str:
    subject = " ".join(question.split())[:80] or "that"
    return f"I could not find anything about “{subject}” in the library."


def parse_answer(raw: str, documents: Sequence[Document], threshold: float) -> CitedAnswer:
    """Keep valid citations (in the context and relevant), drop the others; an answer left
    without one becomes the extractive answer."""
    relevant = relevant_numbers(documents, threshold)
    if not relevant:
        return CitedAnswer("", grounding="not_found")
    cited = [int(n) for n in _CITATION.findall(raw)]
    supported = _supported_citations(raw, documents)
    valid = list(dict.fromkeys(n for n in cited if n in relevant and n in supported))
    dropped = sorted({n for n in cited if n not in valid})
    if _DENIAL.match(raw):
        valid = []  # whether the library has it is decided by retrieval, not by the model
    text = _CITATION.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", raw)
    text = re.sub(r"\s+([.,;!?])", r"\1", " ".join(text.split())).strip()
    if not valid or len(text) < 3:
        numbers = relevant[:3]
        return CitedAnswer(extractive_answer(documents, numbers), numbers, "extractive", dropped)
    return CitedAnswer(text, valid, "model", dropped)


def _words(text: str) -> set[str]:
    """Content words, cut to 5 letters so "birds" meets "bird" and "pictures" "picture"."""
    return {w[:5] for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in _STOPWORDS}


def _supported_citations(raw: str, documents: Sequence[Document]) -> set[int]:
    """Citation numbers whose clause (the text since the previous citation) shares a content
    word with the cited item's caption: "a banana [1]" does not support [1] = "A badger."."""
    supported, start = set(), 0
    for match in _CITATION.finditer(raw):
        number = int(match.group(1))
        clause = _words(raw[start : match.start()])
        if 1 <= number <= len(documents) and clause & _words(documents[number - 1].page_content):
            supported.add(number)
        start = match.end() if clause else start
    return supported


class QAChain:
    """retriever output -> prompt -> LLM -> parser, as LangChain runnables; ``answer`` returns
    the parsed answer, ``stream`` yields the model's text as it comes and then the answer."""

    def __init__(self, llm: BaseLanguageModel, threshold: float):
        self.threshold = threshold
        bound = llm.bind(stop=STOP)
        self.generate = PROMPT | bound | StrOutputParser()

    def _inputs(
        self, question: str, documents: Sequence[Document], history: Sequence[tuple[str, str]]
    ) -> dict[str, str]:
        return {
            "question": " ".join(question.split()),
            "context": format_context(documents),
            "history": format_history(history),
        }

    def answer(
        self,
        question: str,
        documents: Sequence[Document],
        history: Sequence[tuple[str, str]] = (),
    ) -> CitedAnswer:
        """The grounded, cited answer to ``question`` from ``documents``."""
        *_, final = self.stream(question, documents, history)
        assert isinstance(final, CitedAnswer)
        return final

    def stream(
        self,
        question: str,
        documents: Sequence[Document],
        history: Sequence[tuple[str, str]] = (),
        subject: str | None = None,
        threshold: float | None = None,
    ) -> Iterator[str | CitedAnswer]:
        """Model text chunks as they are generated, then the parsed CitedAnswer. ``subject`` is
        what was searched for, named in a "not found" answer (default: the question);
        ``threshold`` overrides the chain's relevance threshold for this question."""
        cut = self.threshold if threshold is None else threshold
        if not relevant_numbers(documents, cut):
            yield CitedAnswer(not_found_answer(subject or question), grounding="not_found")
            return
        chunks = []
        for chunk in self.generate.stream(self._inputs(question, documents, history)):
            chunks.append(chunk)
            yield chunk
        yield parse_answer("".join(chunks), documents, cut)
