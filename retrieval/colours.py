"""The colours a picture shows, by the eleven basic colour terms of English (Berlin & Kay 1969):
what "anything yellow?" or "something red" asks for, which the shared embedding space, learned
from object labels, barely knows.

Each pixel is named in CIE L*C*h (perceptual lightness, chroma and hue, D65): pixels of little
chroma are black, grey or white by lightness; the others by hue angle, with dark oranges and
yellows named brown and light reds pink, as people name them. A picture's colours are those
that cover at least ``MIN_SHARE`` of its opaque pixels, the largest first, leaving out a plain
background (one colour all along the edge: a drawing rendered on white).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from PIL import Image

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black",
           "white", "grey")  # fmt: skip
# other words people use for them
SYNONYMS = {"gray": "grey", "violet": "purple", "golden": "yellow", "gold": "yellow"}
MIN_SHARE = 0.2  # of a picture's opaque pixels, for a colour to be one of its colours
MAX_COLOURS = 3
RANK_WEIGHTS = (1.0, 0.7, 0.5)  # a match on a picture's first, second or third colour
MAX_MATCHED = 200  # pictures a colour adds to a search's candidates (each is then scored)
PLAIN_BORDER = 0.8  # of the edge's pixels in one colour: a plain background, not counted
MIN_FIGURE = 0.05  # unless less than this much of the picture is left
SIDE = 64  # pictures are named at this size at most: colours do not need detail
ACHROMATIC_CHROMA = 14.0  # below this chroma a pixel is black, grey or white
BLACK_BELOW, WHITE_ABOVE = 25.0, 80.0  # lightness
# hue angle (degrees, from the +a* axis) where each chromatic name ends, going round
# (pure sRGB blue lies at 306 degrees, magenta at 328)
_HUES = ((20.0, "pink"), (55.0, "red"), (75.0, "orange"), (120.0, "yellow"), (180.0, "green"),
         (315.0, "blue"), (345.0, "purple"), (360.0, "pink"))  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def colour_shares(image: Image.Image, plain_background: bool = False) -> dict[str, float]:
    """The share of the picture's opaque pixels each colour name covers (names of no pixel
    left out), a plain background left out unless ``plain_background``; {} for a picture with
    no opaque pixel."""
    picture = image.convert("RGBA")
    picture.thumbnail((SIDE, SIDE), Image.Resampling.BOX)
    pixels = np.asarray(picture, dtype=np.float64)
    names = _names(_lch(pixels[:, :, :3].reshape(-1, 3) / 255.0)).reshape(pixels.shape[:2])
    kept = pixels[:, :, 3] >= 128
    background = None if plain_background else _background(names, kept)
    if background is not None:
        figure = kept & (names != background)
        if figure.sum() >= MIN_FIGURE * kept.sum():
            kept = figure
    if not kept.any():
        return {}
    counts = np.bincount(names[kept], minlength=len(COLOURS)) / kept.sum()
    return {COLOURS[n]: round(float(s), 4) for n, s in enumerate(counts) if s > 0}


def picture_colours(image: Image.Image, plain_background: bool = False) -> list[str]:
    """The colours that cover at least ``MIN_SHARE`` of the picture, the largest first (at
    most ``MAX_COLOURS``): what it would be called ("yellow", "white"); ``plain_background``
    counts a plain background too."""
    shares = colour_shares(image, plain_background)
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    return [name for name, share in ranked if share >= MIN_SHARE][:MAX_COLOURS]


def _background(names: np.ndarray, opaque: np.ndarray) -> int | None:
    """The colour of a plain background: the name of at least ``PLAIN_BORDER`` of the opaque
    pixels along the picture's edge (a drawing on white, a product shot); None where the edge
    shows a scene or is transparent."""
    edge = np.concatenate([names[0], names[-1], names[:, 0], names[:, -1]])
    shown = np.concatenate([opaque[0], opaque[-1], opaque[:, 0], opaque[:, -1]])
    if shown.sum() < PLAIN_BORDER * len(shown):
        return None
    counts = np.bincount(edge[shown], minlength=len(COLOURS))
    top = int(counts.argmax())
    return top if counts[top] >= PLAIN_BORDER * shown.sum() else None


def colours_named(text: str) -> list[str]:
    """The basic colours an English text names ("anything yellow?" -> ["yellow"])."""
    found = []
    for word in _WORD.findall(text.lower()):
        name = SYNONYMS.get(word, word)
        if name in COLOURS and name not in found:
            found.append(name)
    return found


def _lch(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (n x 3) -> CIE L*C*h (D65), hue in degrees."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124564, 0.2126729, 0.0193339],
                             [0.3575761, 0.7151522, 0.1191920],
                             [0.1804375, 0.0721750, 0.9503041]])  # fmt: skip
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[:, 1] - 16
    a, b = 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])
    return np.stack([lightness, np.hypot(a, b), np.degrees(np.arctan2(b, a)) % 360], axis=1)


def _names(lch: np.ndarray) -> np.ndarray:
    """The index in ``COLOURS`` of each pixel's name."""
    lightness, chroma, hue = lch[:, 0], lch[:, 1], lch[:, 2]
    bounds = np.array([end for end, _ in _HUES])
    chromatic = np.array([COLOURS.index(name) for _, name in _HUES])[
        np.searchsorted(bounds, hue, side="right").clip(max=len(bounds) - 1)
    ]
    # dark or dull oranges and yellows are brown (dark reds stay red); light red is pink, and
    # a dark pink red
    warm = (hue >= 55.0) & (hue < 120.0)
    dull = (lightness < 50.0) | ((chroma < 45.0) & (lightness < 70.0))
    chromatic = np.where(warm & dull, COLOURS.index("brown"), chromatic)
    red, pink = COLOURS.index("red"), COLOURS.index("pink")
    chromatic = np.where((chromatic == red) & (lightness >= 65.0), pink, chromatic)
    chromatic = np.where((chromatic == pink) & (lightness < 45.0), red, chromatic)
    grey = np.where(
        lightness < BLACK_BELOW,
        COLOURS.index("black"),
        np.where(lightness > WHITE_ABOVE, COLOURS.index("white"), COLOURS.index("grey")),
    )
    return np.where(chroma < ACHROMATIC_CHROMA, grey, chromatic)


class PictureColours:
    """The colours of a library's pictures (``retrieval.items.COLOURS_KEY``), ready to say
    which pictures show the colours a question names."""

    def __init__(self, ids: Sequence[str], colours: Sequence[str]):
        self._by_colour: dict[str, dict[str, float]] = {}
        for item_id, names in zip(ids, colours, strict=True):
            for rank, name in enumerate(names.split()[: len(RANK_WEIGHTS)]):
                self._by_colour.setdefault(name, {})[item_id] = RANK_WEIGHTS[rank]

    def match(self, text: str, top: int = MAX_MATCHED) -> dict[str, float]:
        """Up to ``top`` pictures showing the colours an English text names, by how much in
        (0, 1]: 1 for a picture whose largest colour it is (several colours named: their
        mean); the best first, ties in the order the pictures were given."""
        named = colours_named(text)
        if not named:
            return {}
        found: dict[str, float] = {}
        for name in named:
            for item_id, weight in self._by_colour.get(name, {}).items():
                found[item_id] = found.get(item_id, 0.0) + weight / len(named)
        best = sorted(found.items(), key=lambda kv: -kv[1])[:top]  # stable: ties keep order
        return dict(best)
