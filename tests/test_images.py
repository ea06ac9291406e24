import io
import struct
import zlib

import pytest
from PIL import Image

from retrieval.errors import MediaError, UnsupportedMediaError
from retrieval.images import load_image
from tests.conftest import draw_picture


@pytest.mark.parametrize("suffix", ["png", "jpg", "webp", "gif", "bmp"])
def test_raster_formats_load_as_rgb(tmp_path, suffix):
    path = draw_picture(tmp_path / f"pic.{suffix}")
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.size == (64, 48)
    r, g, b = image.getpixel((32, 24))
    assert r > 200 and g < 80 and b < 80  # the red shape survived decoding


def test_transparency_is_flattened_on_white(tmp_path):
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (0, 0, 255, 255))
    image.save(tmp_path / "alpha.png")
    loaded = load_image(tmp_path / "alpha.png")
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.getpixel((5, 5)) == (0, 0, 255)


def test_palette_transparency_is_flattened_on_white(tmp_path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.save(tmp_path / "pal.gif", transparency=0)
    loaded = load_image(tmp_path / "pal.gif")
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.getpixel((1, 1)) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").size == (20, 40)


def test_svg_is_rasterised_with_internal_entities(tmp_path):
    svg = b"""<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x" [
  <!ENTITY ns_svg "http://www.w3.org/2000/svg">
]>
<svg xmlns="&ns_svg;" width="100" height="50">
<rect width="100" height="50" fill="#00ff00"/></svg>"""
    (tmp_path / "pic.svg").write_bytes(svg)
    image = load_image(tmp_path / "pic.svg")
    assert image.mode == "RGB" and image.width == 512 and image.height == 256
    assert image.getpixel((256, 128)) == (0, 255, 0)


def test_svg_pixels_are_those_of_cairosvgs_own_png(tmp_path):
    """The rasterised SVG is exactly what CairoSVG's PNG output decodes to: anti-aliased edges,
    half-transparent fills and strokes over the white ground, and the last row, which the
    drawing covers only in part (71 px high at 512/90 is 403.9 rows, drawn on 404)."""
    import cairosvg

    svg = b"""<svg xmlns="http://www.w3.org/2000/svg" width="90" height="71">
<rect width="90" height="71" fill="#b8377d" fill-opacity="0.8"/>
<circle cx="40" cy="35" r="27" fill="#c03070" fill-opacity="0.55" stroke="#102080"
 stroke-width="3.3"/><path d="M5 60 Q45 0 85 62" stroke="#2a9" stroke-opacity="0.4"
 fill="none" stroke-width="2.7"/></svg>"""
    (tmp_path / "pic.svg").write_bytes(svg)
    reference = Image.open(
        io.BytesIO(cairosvg.svg2png(bytestring=svg, output_width=512, background_color="white"))
    ).convert("RGB")
    image = load_image(tmp_path / "pic.svg")
    assert image.size == reference.size == (512, 404)
    assert image.tobytes() == reference.tobytes()
    assert len(set(image.getdata())) > 50  # edges and blends, not a flat picture


def test_svg_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    svg = f"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file://{secret}">]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&xxe;</text></svg>"""
    (tmp_path / "xxe.svg").write_text(svg)
    with pytest.raises(MediaError, match="cannot render SVG"):
        load_image(tmp_path / "xxe.svg")


def test_nested_entity_bomb_is_refused(tmp_path):
    svg = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&b;</text></svg>"""
    (tmp_path / "bomb.svg").write_bytes(svg)
    with pytest.raises(MediaError):
        load_image(tmp_path / "bomb.svg")


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size but which holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))


def test_decompression_bomb_is_refused(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_header_claiming(30000, 30000))
    with pytest.raises(MediaError, match="decompression bomb"):
        load_image(tmp_path / "bomb.png")


def test_pixel_limit_is_configurable(tmp_path):
    path = draw_picture(tmp_path / "pic.png")
    with pytest.raises(MediaError, match="pixel limit"):
        load_image(path, max_pixels=1000)


def test_corrupt_image_is_refused(tmp_path):
    data = draw_picture(tmp_path / "pic.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError):
        load_image(tmp_path / "truncated.png")


def test_non_image_is_refused_as_unsupported(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a picture")
    with pytest.raises(UnsupportedMediaError, match="not a PNG"):
        load_image(tmp_path / "notes.png")


def test_empty_missing_and_oversized_files_are_refused(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(MediaError, match="not found"):
        load_image(tmp_path / "missing.png")
    path = draw_picture(tmp_path / "pic.png")
    with pytest.raises(MediaError, match="over the"):
        load_image(path, max_bytes=10)


def test_bytes_input_uses_the_label_in_errors():
    with pytest.raises(MediaError, match=r"upload\.png"):
        load_image(b"garbage", label="upload.png")
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), "blue").save(buffer, format="PNG")
    assert load_image(buffer.getvalue()).getpixel((1, 1)) == (0, 0, 255)
