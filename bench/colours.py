"""Colours of pictures, measured against the colours people name in captions.

Test set: every Tux Paint stamp whose caption names one of the eleven basic colours ("A yellow
pear.", "A blue bicycle.", "The red light means you must stop now."), one per distinct caption
and picture. Reported, for retrieval/colours.py as ingest runs it and for a baseline in the
same run that counts the whole picture (a plain background included, as a drawing rendered on
white has it):
- the share of named colours among the picture's colours (those covering at least 20% of it);
- the share that is the picture's largest colour;
- both per colour, and the time to name one picture (median, seconds).

The classifier's thresholds were set while looking at this set (there is no other labelled
one), so the figures say how well the names agree with captions, not how they generalise.

Writes bench/results/colours.json.

    python bench/colours.py
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path

from provenance import provenance

import retrieval.colours as colours
from retrieval.datasets.tuxpaint import captioned_stamps, stamps_dir
from retrieval.errors import MediaError
from retrieval.images import load_image

RESULTS = Path(__file__).parent / "results"


def stamps_naming_a_colour() -> list[tuple[str, object, list[str]]]:
    """(caption, picture, colours its caption names) of each stamp naming a colour."""
    rows, seen = [], set()
    for path, caption in captioned_stamps(stamps_dir()):
        named = colours.colours_named(caption)
        if not named or (caption, path.stem) in seen:
            continue
        seen.add((caption, path.stem))
        try:
            rows.append((caption, load_image(path, keep_alpha=True), named))
        except MediaError:
            continue
    return rows


def whole_picture_colours(image) -> list[str]:
    """The baseline: the picture's colours with every opaque pixel counted."""
    return colours.picture_colours(image, plain_background=True)


def agreement(rows, name) -> dict:
    among = first = total = 0
    per: Counter = Counter()
    hits: Counter = Counter()
    seconds = []
    for _, image, named in rows:
        start = time.perf_counter()
        found = name(image)
        seconds.append(time.perf_counter() - start)
        for colour in named:
            total += 1
            per[colour] += 1
            among += colour in found
            hits[colour] += colour in found
            first += bool(found) and found[0] == colour
    return {
        "named_among_its_colours": round(among / total, 3),
        "named_is_its_largest": round(first / total, 3),
        "per_colour_among": {c: f"{hits[c]}/{per[c]}" for c in sorted(per)},
        "seconds_per_picture_p50": round(statistics.median(seconds), 5),
    }


def main() -> None:
    rows = stamps_naming_a_colour()
    report = {
        "provenance": provenance("none"),
        "pictures": len(rows),
        "colours_named": sum(len(named) for _, _, named in rows),
        "retrieval.colours (plain background left out)": agreement(rows, colours.picture_colours),
        "baseline: whole picture": agreement(rows, whole_picture_colours),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "colours.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
