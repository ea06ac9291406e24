"""What one chat turn gives back, as plain data the CLI prints and the UI renders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Citation:
    """A context item the answer cites, by its number in the answer."""

    number: int
    item_id: str
    caption: str
    uri: str
    modality: str
    score: float
    moment: float | None = None  # seconds into a video, where it was found


@dataclass
class Result:
    """One retrieved item, in rank order."""

    item_id: str
    caption: str
    uri: str
    modality: str
    score: float
    matched: str
    moment: float | None = None
    evidence: str = ""  # what matched: words heard in a video, text read in a picture


@dataclass
class Suggestion:
    """One recommended item with the reason it was recommended."""

    item_id: str
    caption: str
    uri: str
    modality: str
    score: float
    because: str


@dataclass
class Reply:
    """The answer with its citations, the results, recommendations, what was heard and seen,
    and how long each stage took (seconds)."""

    answer: str
    citations: list[Citation] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    recommendations: list[Suggestion] = field(default_factory=list)
    transcript: str | None = None
    image_labels: list[str] = field(default_factory=list)
    query_kind: str = "text"
    search_text: str = ""
    grounding: str = "model"
    language: str = "en"  # the question's, which the answer's fixed sentences are in
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """A Reply from its ``to_dict`` form (a saved conversation); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["citations"] = [Citation(**c) for c in data.get("citations", [])]
        values["results"] = [Result(**r) for r in data.get("results", [])]
        values["recommendations"] = [Suggestion(**r) for r in data.get("recommendations", [])]
        return cls(**values)

    def render(self) -> str:
        """The reply as text for a terminal."""
        lines = []
        if self.transcript is not None:
            lines.append(f"(heard: “{self.transcript}”)")
        if self.image_labels:
            lines.append(f"(the image looks like: {', '.join(self.image_labels)})")
        lines.append(self.answer)
        for c in self.citations:
            lines.append(f"  [{c.number}] {c.caption}  ({c.modality}, {c.uri})")
        if self.results:
            lines.append("\nResults:")
            lines += [
                f"  {r.score:.3f}  {r.caption}  ({r.modality}, {r.uri})" for r in self.results
            ]
        if self.recommendations:
            lines.append("\nRecommended for you:")
            lines += [f"  {s.caption}  ({s.uri}) — {s.because}" for s in self.recommendations]
        return "\n".join(lines)
