"""The grounded QA chain: numbered context items -> prompt -> LLM -> checked, cited answer.

What the answer may claim is planned first (assistant.answers: the calibrated grade and the
items it may cite). A model that takes a grammar (llama.cpp) writes within the plan's shapes; any
other model's text is checked against the plan. An answer that does not pass becomes the plan's
template answer. The whole answer is checked before any of it is shown, so streamed text is
never withdrawn. Retrieved captions are data: quoted one per line, cut short, and withheld from
the model when they read like instructions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from assistant.answers import (
    WITHHELD,
    AnswerPlan,
    answer_grammar,
    check_answer,
    evidence_phrase,
    item_caption,
    missing_sentence,
    more_sentence,
    safe_caption,
    template_answer,
)
from assistant.errors import LLMError
from assistant.locales import LANGUAGE_NAMES

__all__ = ["WITHHELD", "CitedAnswer", "QAChain", "format_context", "format_history"]
log = logging.getLogger(__name__)

PROMPT = PromptTemplate.from_template(
    """Answer each question using only the numbered library items{in_language}. Cite the items \
you use as [n].

Items:
[1] A red apple. (image)
[2] A toy car. (image)
Question: Do you have any fruit?
Answer: Yes, I have a red apple [1].

Items:
[1] A hammer. (image)
[2] A saw. (image)
[3] A rubber duck. (image)
Question: What tools are there?
Answer: I have a hammer [1] and a saw [2].
{history}
Items:
{context}
Question: {question}
Answer:"""
)
# With a grammar the form is fixed; the model only chooses, so a short prompt does (and the
# prompt is most of a small model's time on 2 cores).
CHOOSE_PROMPT = PromptTemplate.from_template(
    """Answer from the numbered library items that match the question{in_language}, citing \
them as [n].
{history}
Items:
{context}
Question: {question}
Answer:"""
)
STOP = ["\n"]

Grounding = Literal["model", "template", "not_found"]


@dataclass
class CitedAnswer:
    """An answer and the context items it cites (numbers are 1-based positions in the context);
    ``grounding`` says who wrote it: the model, the template, or nothing was found."""

    text: str
    citations: list[int] = field(default_factory=list)
    grounding: Grounding = "model"
    rejected: str = ""  # a model answer that did not pass the checks


def format_context(documents: Sequence[Document], language: str = "en") -> str:
    """Numbered context lines, ``[n] caption<evidence> (modality)``: the evidence is a video's
    moment and words, a picture's text or generated description (answers.evidence_phrase);
    the caption is the item's own in ``language`` where it has one."""
    return "\n".join(
        f"[{n}] {safe_caption(item_caption(d, language))}{evidence_phrase(d)} "
        f"({d.metadata.get('modality', 'item')})"
        for n, d in enumerate(documents, start=1)
    )


def format_history(history: Sequence[tuple[str, str]]) -> str:
    """Earlier turns of the session, newest last, for follow-up questions."""
    if not history:
        return ""
    lines = [f"Earlier question: {q}\nEarlier answer: {a}" for q, a in history]
    return "\n" + "\n".join(lines) + "\n"


def prompt_inputs(
    question: str,
    documents: Sequence[Document],
    plan: AnswerPlan,
    history: Sequence[tuple[str, str]],
) -> dict[str, str]:
    """What the prompts are filled with; a question in another language asks for the answer in
    it (the items named by their own captions in it where they have them, else as they are)."""
    name = LANGUAGE_NAMES.get(plan.language, "")
    return {
        "question": " ".join(question.split()),
        "context": format_context(documents, plan.language),
        "history": format_history(history),
        "in_language": f", in {name}" if plan.language != "en" and name else "",
    }


class QAChain:
    """prompt -> LLM as LangChain runnables, then the plan's checks; ``answer`` returns the
    checked answer, ``stream`` yields it in pieces and then the CitedAnswer."""

    def __init__(self, llm: BaseLanguageModel):
        self.grammar = bool(getattr(llm, "supports_grammar", False))
        self.llm = llm
        self.generate = PROMPT | llm.bind(stop=STOP) | StrOutputParser()

    def _write(
        self,
        question: str,
        documents: Sequence[Document],
        plan: AnswerPlan,
        history: Sequence[tuple[str, str]],
    ) -> str:
        inputs = prompt_inputs(question, documents, plan, history)
        if self.grammar:
            grammar = answer_grammar(plan, documents)
            bound = CHOOSE_PROMPT | self.llm.bind(stop=STOP, grammar=grammar)
            return (bound | StrOutputParser()).invoke(inputs)
        return self.generate.invoke(inputs)

    def answer(
        self,
        question: str,
        documents: Sequence[Document],
        plan: AnswerPlan,
        history: Sequence[tuple[str, str]] = (),
    ) -> CitedAnswer:
        """The checked, cited answer to ``question`` from ``documents`` within ``plan``."""
        if plan.grade == "none":
            return CitedAnswer(template_answer(plan, documents), [], "not_found")
        raw = ""
        try:
            raw = self._write(question, documents, plan, history)
        except LLMError as exc:  # the template still answers; the log says why
            log.warning("the LLM failed, answering from the template: %s", exc)
        checked = check_answer(raw, plan, documents, question)
        if checked is not None:
            text, cited = checked
            return CitedAnswer(
                text + more_sentence(plan, cited) + missing_sentence(plan), cited, "model"
            )
        text = template_answer(plan, documents) + more_sentence(plan, plan.lead)
        text += missing_sentence(plan)
        return CitedAnswer(text, list(plan.lead), "template", raw)

    def stream(
        self,
        question: str,
        documents: Sequence[Document],
        plan: AnswerPlan,
        history: Sequence[tuple[str, str]] = (),
    ) -> Iterator[str | CitedAnswer]:
        """The checked answer in word-sized pieces (their concatenation is the answer's text,
        nothing is ever withdrawn), then the CitedAnswer."""
        answer = self.answer(question, documents, plan, history)
        yield from re.findall(r"\S+\s*", answer.text)
        yield answer
