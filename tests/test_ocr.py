"""Text in pictures: phrases drawn with PIL onto real Tux Paint stamps are read back, stamps
without text pass the gate cheaply, and odd or broken inputs get typed errors."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from retrieval.datasets.text_pictures import TextStyle, font_path, render_text, text_pictures
from retrieval.errors import MediaError, OCRUnavailableError
from retrieval.ocr import PictureText, TextReader

ROOT = Path(__file__).resolve().parent.parent
# Measured: every case below read back exactly (16/16 words) on this machine; the floor leaves
# room for a different CPU's rounding, not for a broken reader.
WORD_RECALL_FLOOR = 0.85
BLACK, WHITE, NAVY, CREAM = (0, 0, 0), (255, 255, 255), (20, 30, 90), (250, 240, 200)

CASES = [  # phrase, font, size, angle, fill, plate, outline, canvas colour
    ("Summer Jazz Festival", "DejaVuSans.ttf", 40, 0, BLACK, None, None, "white"),
    ("Fresh Bread Daily", "DejaVuSerif-Bold.ttf", 28, 0, NAVY, CREAM, None, "white"),
    ("Exit Only", "DejaVuSansMono.ttf", 48, -12, WHITE, NAVY, None, "white"),
    ("Midnight Kite Parade", "DejaVuSansCondensed-Bold.ttf", 56, 0, CREAM, None, None, "#202830"),
    ("Lost Cat Riverside", "DejaVuSerif-Italic.ttf", 36, 20, WHITE, None, BLACK, "#a0c0e0"),
    ("Bus Stop", "DejaVuSans-Oblique.ttf", 20, 0, BLACK, None, None, "white"),
]


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: what recall is counted on."""
    return re.findall(r"[a-z0-9]+", text.lower())


def stamp(stamps_root: Path, name: str) -> Image.Image:
    """A real stamp with its transparency kept."""
    path = next(p for p in sorted(stamps_root.rglob(f"{name}.png")))
    return Image.open(path).convert("RGBA")


def on_canvas(picture: Image.Image, colour: str, size: tuple[int, int] = (640, 480)):
    """The stamp pasted on a canvas (top left quarter free for text, as on a poster)."""
    canvas = Image.new("RGB", size, colour)
    picture = picture.copy()
    picture.thumbnail((size[0] * 2 // 3, size[1] * 2 // 3))
    canvas.paste(picture, (size[0] - picture.width, size[1] - picture.height), picture)
    return canvas


@pytest.fixture(scope="module")
def reader() -> TextReader:
    reader = TextReader()
    reader.load()
    return reader


@pytest.fixture(scope="module")
def stamps(stamps_root) -> dict[str, Image.Image]:
    names = ("frog", "banana", "duck", "sheep", "guitar2", "wheel_tractor")
    return {name: stamp(stamps_root, name) for name in names}


@pytest.fixture(scope="module")
def text_cases(stamps) -> list[tuple[str, Image.Image]]:
    made = []
    for (phrase, font, size, angle, fill, plate, outline, colour), picture in zip(
        CASES, stamps.values(), strict=True
    ):
        style = TextStyle(font_path(font), size, angle, fill, plate, outline)
        made.append((phrase, render_text(on_canvas(picture, colour), phrase, style, (0.4, 0.2))))
    return made


def test_rendered_phrases_are_read_back(reader, text_cases):
    found = total = 0
    for phrase, picture in text_cases:
        result = reader.read(picture)
        assert isinstance(result, PictureText) and not result.skipped
        got = words(result.text)
        found += sum(word in got for word in words(phrase))
        total += len(words(phrase))
        for line in result.lines:
            assert reader.min_score <= line.score <= 1 and line.text
            assert all(-2 <= x <= picture.width + 2 and -2 <= y <= picture.height + 2
                       for x, y in line.box)  # fmt: skip
    assert found / total >= WORD_RECALL_FLOOR, f"word recall {found}/{total}"


def test_gate_passes_every_text_picture(reader, text_cases):
    assert all(reader.has_text(picture) for _, picture in text_cases)


def test_lines_come_in_reading_order(reader, stamps):
    picture = on_canvas(stamps["duck"], "white")
    style = TextStyle(font_path("DejaVuSans-Bold.ttf"), 36)
    picture = render_text(picture, "Grand Opening", style, (0.3, 0.1))
    picture = render_text(picture, "Tomorrow Noon", style, (0.3, 0.3))
    result = reader.read(picture)
    assert words(result.text) == ["grand", "opening", "tomorrow", "noon"]
    assert result.text.count("\n") == 1


def test_stamps_without_text_are_gated_out(reader, stamps):
    for name in ("frog", "banana", "duck", "sheep", "wheel_tractor"):
        canvas = on_canvas(stamps[name], "white")
        assert not reader.has_text(canvas), name
        result = reader.read(canvas, gate=True)
        assert result.skipped and result.text == "" and result.lines == () and not result


def test_a_false_alarm_of_the_gate_adds_no_text(reader, stamps):
    """A guitar's frets look like a line of text to the detector (the gate's measured false
    alarms are such drawings): the read runs, and its weak guesses are dropped."""
    canvas = on_canvas(stamps["guitar2"], "white")
    assert reader.has_text(canvas)
    result = reader.read(canvas, gate=True)
    assert not result.skipped and result.text == ""
    assert TextReader(min_score=0.0).read(canvas).lines  # there was a guess, below min_score


def test_gate_costs_less_than_reading(reader, stamps):
    picture = on_canvas(stamps["frog"], "white", (1024, 768))
    gate, read = [], []
    for _ in range(3):
        start = time.perf_counter()
        reader.has_text(picture)
        gate.append(time.perf_counter() - start)
        read.append(reader.read(picture).seconds)
    assert min(gate) < min(read)


def test_white_text_on_transparency_is_read(reader):
    """Transparency goes onto a background that contrasts with what is drawn (not always
    white, which would hide white text)."""
    layer = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    style = TextStyle(font_path("DejaVuSans-Bold.ttf"), 48, fill=WHITE)
    picture = render_text(layer, "Snow Day", style).convert("RGB")
    alpha = picture.convert("L").point(lambda v: 255 if v > 40 else 0)
    picture.putalpha(alpha)
    assert words(reader.read(picture).text) == ["snow", "day"]


@pytest.mark.parametrize("mode", ["L", "P", "LA", "I;16", "CMYK"])
def test_picture_modes_are_read(reader, stamps, mode):
    picture = on_canvas(stamps["banana"], "white")
    style = TextStyle(font_path("DejaVuSerif.ttf"), 44)
    picture = render_text(picture, "Banana Market", style, (0.4, 0.15))
    converted = picture.convert("L").convert(mode) if mode == "I;16" else picture.convert(mode)
    assert words(reader.read(converted).text) == ["banana", "market"]


def test_huge_picture_is_shrunk_and_boxes_map_back(reader, stamps):
    picture = on_canvas(stamps["sheep"], "white", (6000, 4000))
    style = TextStyle(font_path("DejaVuSans-Bold.ttf"), 300)
    picture = render_text(picture, "Wool Fair", style, (0.3, 0.15))
    result = reader.read(picture)
    assert words(result.text) == ["wool", "fair"]
    xs = [x for line in result.lines for x, _ in line.box]
    assert min(xs) > 500 and max(xs) < 3300  # where it was drawn, in the picture's pixels


@pytest.mark.parametrize("size", [(1, 1), (5, 5), (4000, 3), (2, 900)])
def test_tiny_or_thin_pictures_are_empty_without_running_models(size):
    reader = TextReader()  # never loaded: these must not need the models
    result = reader.read(Image.new("RGB", size, "white"), gate=True)
    assert result.text == "" and result.lines == ()
    assert not reader.has_text(Image.new("RGB", size, "white"))
    assert reader._made == 0  # no models were loaded


def test_blank_picture_is_empty_and_quiet(reader, capfd):
    result = reader.read(Image.new("RGB", (400, 300), "white"))
    assert result.text == "" and result.lines == ()
    captured = capfd.readouterr()
    assert "RapidOCR" not in captured.err + captured.out


def test_odd_inputs_get_typed_errors(reader, tmp_path):
    with pytest.raises(MediaError, match="expected a PIL image"):
        reader.read(b"\x89PNG not really")  # type: ignore[arg-type]
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buffer, "PNG")
    truncated = Image.open(io.BytesIO(buffer.getvalue()[:60]))
    with pytest.raises(MediaError, match="cannot be decoded"):
        reader.read(truncated)
    broken = tmp_path / "broken.png"
    broken.write_bytes(buffer.getvalue()[:60])
    with pytest.raises(MediaError):
        reader.read_file(broken)
    with pytest.raises(MediaError, match="not found"):
        reader.read_file(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="min_score"):
        TextReader(min_score=2)


def test_missing_rapidocr_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # what an absent package looks like
    with pytest.raises(OCRUnavailableError, match=r"pip install rapidocr==3\.10\.0"):
        TextReader().load()


def test_reading_never_touches_the_network(tmp_path):
    """A fresh process where any connection or name lookup fails loudly still loads the models
    and reads a picture: everything comes from the wheel."""
    script = """
import socket, sys
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        raise RuntimeError(f"network use: {event} {args}")
sys.addaudithook(refuse)
from PIL import Image, ImageDraw, ImageFont
from retrieval.ocr import TextReader
picture = Image.new("RGB", (420, 120), "white")
font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)
ImageDraw.Draw(picture).text((20, 30), "Offline Only", font=font, fill="black")
print(TextReader().read(picture).text)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert words(done.stdout) == ["offline", "only"]
    assert "network use" not in done.stderr


def run_at_once(work, count: int) -> None:
    """``work(n)`` for n in range(count), each on its own thread; returns when all are done."""
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_one_reader_is_safe_from_several_threads(reader, text_cases):
    pictures = [picture for _, picture in text_cases[:3]]
    alone = [reader.read(p).text for p in pictures]
    together: dict[int, str] = {}

    def read(n: int) -> None:
        together[n] = reader.read(pictures[n]).text

    run_at_once(read, len(pictures))
    assert [together[n] for n in range(len(pictures))] == alone


def test_a_reader_with_two_engines_reads_two_pictures_at_once(reader, text_cases):
    pictures = [picture for _, picture in text_cases[:4]]
    alone = [reader.read(p, gate=True).text for p in pictures]
    pair = TextReader(engines=2, threads=1)
    running, most = 0, 0
    count = threading.Lock()
    together: dict[int, str] = {}
    start = threading.Barrier(len(pictures))

    def read(n: int) -> None:
        nonlocal running, most
        start.wait()
        with pair._models():
            with count:
                running += 1
                most = max(most, running)
            time.sleep(0.05)  # hold the set so that the other threads need theirs
            with count:
                running -= 1
        together[n] = pair.read(pictures[n], gate=True).text

    run_at_once(read, len(pictures))
    assert [together[n] for n in range(len(pictures))] == alone
    assert most == 2  # two sets at once, never more than the two made
    assert pair._made == 2


def test_engines_must_be_at_least_one():
    with pytest.raises(ValueError, match="engines"):
        TextReader(engines=0)


def test_made_text_pictures_are_reproducible(stamps_root):
    pngs = sorted(stamps_root.rglob("*.png"))
    first = text_pictures(pngs, 3, 2, seed=7)
    again = text_pictures(pngs, 3, 2, seed=7)
    assert [p.phrase for p in first] == [p.phrase for p in again]
    assert [p.phrase is None for p in first] == [False, False, False, True, True]
    assert all(a.image.tobytes() == b.image.tobytes() for a, b in zip(first, again, strict=True))
    assert len({p.source for p in first}) == 5
