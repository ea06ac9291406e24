"""Pictures with text in them, made reproducibly from real pictures (the Tux Paint stamps).

Each picture is a stamp pasted on a canvas (white, a light or dark flat colour, or a
gradient); half of a set also carry a phrase (an event name, a sign, or words from a word
list) drawn with a DejaVu font at a seeded size, angle, colour and position, directly on the
picture or on a plate. Text straight on the picture contrasts with the canvas (it may still
cross the stamp's drawing, as in real pictures). The other half are made the same way
without text, so a text detector cannot tell them apart by anything but the text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from retrieval.errors import DatasetError

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
)
CANVAS_SIDES = (480, 640, 800, 1024, 1600)
FONT_SIZES = (16, 20, 24, 32, 40, 56, 72)  # pixels, before the canvas is scaled
ANGLES = (0, 0, 0, 0, -5, 5, -12, 12, -25, 25)  # degrees; most text in pictures is level
Colour = tuple[int, int, int]

SEASONS = ("Spring", "Summer", "Autumn", "Winter", "Midnight", "Harvest", "Sunday")
GENRES = ("Jazz", "Folk", "Blues", "Film", "Book", "Chess", "Kite", "Cheese", "Robot", "Piano")
EVENTS = ("Festival", "Fair", "Market", "Parade", "Concert", "Marathon", "Exhibition", "Gala")
TOWNS = ("Oakridge", "Riverside", "Maplewood", "Kingsbridge", "Lakeview", "Ashford", "Brighton")
SIGNS = (
    "No Parking",
    "Fresh Bread",
    "Keep Off The Grass",
    "Exit Only",
    "Open Daily",
    "Beware Of The Dog",
    "Closed For Repairs",
    "Free Entry",
    "Wet Paint",
    "Bus Stop",
    "Ice Cream",
    "Lost Cat",
    "Garage Sale",
    "Fire Exit",
    "Staff Only",
    "Hot Coffee",
)
_WORD_LIST = (
    "apple anchor badger balloon basket beacon bicycle blanket bottle bridge bucket butter "
    "cabin candle canyon carpet castle cellar cherry circus cloud comet copper cotton crystal "
    "desert dolphin dragon engine falcon feather forest fountain garden ginger glacier guitar "
    "hammer harbour helmet honey island jacket jungle kettle ladder lantern lemon library "
    "magnet marble meadow mirror monkey mountain needle noodle ocean orange orchard oyster "
    "paddle parrot pepper pirate planet pocket puzzle rabbit rocket saddle salmon sandal "
    "silver spider station sugar summit tiger timber tomato tunnel turtle velvet violin "
    "walnut whistle window winter wizard yellow zebra"
)
WORDS = tuple(_WORD_LIST.split())


@dataclass(frozen=True)
class TextStyle:
    """How a phrase is drawn: font file, size in pixels, angle (degrees, counter-clockwise),
    text colour, an optional plate (a filled box behind the text) and an optional outline."""

    font: Path
    size: int
    angle: float = 0.0
    fill: Colour = (0, 0, 0)
    plate: Colour | None = None
    outline: Colour | None = None


@dataclass(frozen=True)
class TextPicture:
    """One made picture: the image, the phrase drawn on it (``None`` for none) and how."""

    image: Image.Image
    phrase: str | None
    source: Path
    style: TextStyle | None
    canvas: str


def font_path(name: str) -> Path:
    """A DejaVu font file, or a DatasetError saying which package provides it."""
    path = FONT_DIR / name
    if not path.is_file():
        raise DatasetError(
            f"{path} not found: install the DejaVu fonts (apt-get install fonts-dejavu)"
        )
    return path


def text_layer(text: str, style: TextStyle) -> Image.Image:
    """The phrase drawn on a transparent layer (with its plate), rotated by ``style.angle``."""
    font = ImageFont.truetype(str(style.font), style.size)
    left, top, right, bottom = font.getbbox(text, stroke_width=2 if style.outline else 0)
    pad = max(4, style.size // 3)
    layer = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style.plate is not None:
        draw.rectangle((0, 0, layer.width - 1, layer.height - 1), fill=(*style.plate, 255))
    draw.text(
        (pad - left, pad - top),
        text,
        font=font,
        fill=(*style.fill, 255),
        stroke_width=2 if style.outline else 0,
        stroke_fill=(*style.outline, 255) if style.outline else None,
    )
    if style.angle:
        layer = layer.rotate(style.angle, resample=Image.Resampling.BICUBIC, expand=True)
    return layer


def render_text(
    picture: Image.Image, text: str, style: TextStyle, where: tuple[float, float] = (0.5, 0.5)
) -> Image.Image:
    """A copy of ``picture`` (RGB) with ``text`` drawn on it; ``where`` is the text's centre as
    fractions of the width and height, moved inwards so that the text stays whole."""
    base = picture.convert("RGB")
    layer = text_layer(text, style)
    if layer.width > base.width or layer.height > base.height:
        raise DatasetError(
            f"text {text!r} at {style.size}px is {layer.width}x{layer.height}, larger than the "
            f"{base.width}x{base.height} picture: use a smaller size"
        )
    x = round(where[0] * base.width - layer.width / 2)
    y = round(where[1] * base.height - layer.height / 2)
    x = min(max(x, 0), base.width - layer.width)
    y = min(max(y, 0), base.height - layer.height)
    base.paste(layer, (x, y), layer)
    return base


def random_phrase(rng: random.Random) -> str:
    """An event name, a sign or two or three words from the word list."""
    kind = rng.choice(("event", "event", "sign", "words"))
    if kind == "event":
        return rng.choice(
            (
                f"{rng.choice(SEASONS)} {rng.choice(GENRES)} {rng.choice(EVENTS)}",
                f"{rng.choice(TOWNS)} {rng.choice(GENRES)} {rng.choice(EVENTS)}",
                f"{rng.choice(GENRES)} {rng.choice(EVENTS)} {rng.randrange(1990, 2031)}",
            )
        )
    if kind == "sign":
        return rng.choice((rng.choice(SIGNS), f"{rng.choice(SIGNS)} {rng.choice(TOWNS)}"))
    return " ".join(rng.sample(WORDS, rng.choice((2, 3))))


def _canvas(stamp: Image.Image, rng: random.Random) -> tuple[Image.Image, str]:
    """The stamp scaled onto a canvas of a seeded size and background."""
    side = rng.choice(CANVAS_SIDES)
    width, height = rng.choice(((side, side * 3 // 4), (side * 3 // 4, side), (side, side)))
    kind = rng.choice(("white", "colour", "gradient", "dark"))
    if kind == "white":
        canvas = Image.new("RGB", (width, height), "white")
    else:
        low, high = (0, 80) if kind == "dark" else (140, 256)
        top = tuple(rng.randrange(low, high) for _ in range(3))
        bottom = tuple(rng.randrange(low, high) for _ in range(3)) if kind == "gradient" else top
        canvas = Image.linear_gradient("L").resize((width, height))
        canvas = Image.merge(
            "RGB",
            [
                canvas.point(lambda v, a=a, b=b: a + (b - a) * v // 255)
                for a, b in zip(top, bottom, strict=True)
            ],
        )
    scale = rng.uniform(0.5, 0.9) * min(width / stamp.width, height / stamp.height)
    size = (max(1, round(stamp.width * scale)), max(1, round(stamp.height * scale)))
    resized = stamp.resize(size, Image.Resampling.LANCZOS)
    position = (rng.randrange(0, width - size[0] + 1), rng.randrange(0, height - size[1] + 1))
    canvas.paste(resized, position, resized)
    return canvas, f"{width}x{height} {kind}"


def random_style(rng: random.Random, canvas_side: int, dark_canvas: bool = False) -> TextStyle:
    """A seeded font, size (scaled with the canvas), angle, colours and plate; text drawn
    straight on the picture is light on a dark canvas and dark on a light one."""
    size = round(rng.choice(FONT_SIZES) * max(1.0, canvas_side / 800))
    look = rng.choice(("on picture", "dark on light plate", "light on dark plate", "outlined"))
    dark = tuple(rng.randrange(0, 70) for _ in range(3))
    light = tuple(rng.randrange(200, 256) for _ in range(3))
    on_dark = look in ("light on dark plate", "outlined") or (look == "on picture" and dark_canvas)
    return TextStyle(
        font=font_path(rng.choice(FONTS)),
        size=size,
        angle=rng.choice(ANGLES),
        fill=light if on_dark else dark,
        plate={"dark on light plate": light, "light on dark plate": dark}.get(look),
        outline=(0, 0, 0) if look == "outlined" else None,
    )


def text_pictures(
    stamps: Sequence[Path], with_text: int, without_text: int, seed: int = 0
) -> list[TextPicture]:
    """``with_text`` pictures with distinct phrases, then ``without_text`` pictures without,
    each on a different raster stamp (drawn without replacement, seeded)."""
    return list(iter_text_pictures(stamps, with_text, without_text, seed))


def iter_text_pictures(
    stamps: Sequence[Path], with_text: int, without_text: int, seed: int = 0
) -> Iterator[TextPicture]:
    """``text_pictures`` one at a time (large canvases add up: 1600x1600 is 7.7 MB each)."""
    if with_text + without_text > len(stamps):
        raise DatasetError(f"{with_text + without_text} pictures asked for, {len(stamps)} stamps")
    rng = random.Random(seed)
    chosen = rng.sample(list(stamps), with_text + without_text)
    phrases: list[str] = []
    while len(phrases) < with_text:
        phrase = random_phrase(rng)
        if phrase not in phrases:
            phrases.append(phrase)
    for n, source in enumerate(chosen):
        canvas, canvas_kind = _canvas(_rgba(source), rng)
        if n >= with_text:
            yield TextPicture(canvas, None, source, None, canvas_kind)
            continue
        style = random_style(rng, max(canvas.size), canvas_kind.endswith("dark"))
        while text_layer(phrases[n], style).width > canvas.width * 0.95:
            style = TextStyle(**{**style.__dict__, "size": round(style.size * 0.8)})
        where = (rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.9))
        image = render_text(canvas, phrases[n], style, where)
        yield TextPicture(image, phrases[n], source, style, canvas_kind)


def _rgba(path: Path) -> Image.Image:
    """A raster stamp with its transparency kept (so it pastes cleanly on any background)."""
    try:
        with Image.open(path) as image:
            return image.convert("RGBA")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read stamp ({exc})") from None
