"""Kinds of things by WordNet (retrieval/wordnet.py), measured on the Tux Paint folders.

Each distinct caption's subject (assistant.calibration.subject_of: "A black cat." -> cat) is
asked whether it is a kind of its folder's kind (animals/birds -> bird, food -> food, ...) and
of the other folders' kinds. Reported per kind: the share of the folder's captions that are of
it (recall) and of the other folders' captions that are (outside: partly true kinds the folders
file elsewhere, a chicken is food), for the commonest 1, 2 (the assistant's setting) and 3
senses. Writes bench/results/kinds.json.

    python bench/kinds.py
"""

from __future__ import annotations

import json
from pathlib import Path

from provenance import provenance

from assistant.calibration import subject_of
from retrieval.datasets.tuxpaint import captioned_stamps, stamps_dir
from retrieval.wordnet import KIND_SENSES, WordNet

RESULTS = Path(__file__).parent / "results"
KINDS = {"bird": ("animals", "birds"), "mammal": ("animals", "mammals"),
         "fish": ("animals", "fish"), "insect": ("animals", "insects"), "animal": ("animals",),
         "food": ("food",), "vehicle": ("vehicles",), "plant": ("plants",),
         "clothing": ("clothes",)}  # fmt: skip


def main() -> None:
    root = stamps_dir()
    heads: dict[str, tuple[str, ...]] = {}
    for path, caption in captioned_stamps(root):
        subject = subject_of(caption).split()
        if subject:
            heads.setdefault(caption, (subject[-1], *path.relative_to(root).parts[:-1]))
    wordnet = WordNet()
    report: dict = {"provenance": provenance("none"), "captions": len(heads), "senses": {}}
    for senses in (1, KIND_SENSES, 3):
        row = {}
        for kind, folder in KINDS.items():
            inside = [h[0] for h in heads.values() if h[1 : 1 + len(folder)] == folder]
            outside = [h[0] for h in heads.values() if h[1 : 1 + len(folder)] != folder]

            def share(words: list[str], kind: str = kind, senses: int = senses) -> float:
                return round(
                    sum(wordnet.is_kind_of(w, kind, senses) for w in words) / len(words), 3
                )

            row[kind] = {
                "inside": share(inside),
                "outside": share(outside),
                "captions": len(inside),
            }
        report["senses"][str(senses)] = row
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kinds.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["senses"][str(KIND_SENSES)], indent=1))


if __name__ == "__main__":
    main()
