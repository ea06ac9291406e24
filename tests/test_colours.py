"""The colours of pictures (retrieval/colours.py) on pictures drawn here, and on real stamps."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from retrieval.colours import PictureColours, colour_shares, colours_named, picture_colours


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((255, 0, 0), "red"), ((139, 0, 0), "red"), ((255, 128, 0), "orange"),
        ((255, 165, 0), "orange"), ((255, 255, 0), "yellow"), ((255, 215, 0), "yellow"),
        ((0, 128, 0), "green"), ((0, 255, 0), "green"), ((0, 0, 255), "blue"),
        ((0, 0, 128), "blue"), ((135, 206, 235), "blue"), ((128, 0, 128), "purple"),
        ((255, 192, 203), "pink"), ((255, 105, 180), "pink"), ((139, 69, 19), "brown"),
        ((0, 0, 0), "black"), ((255, 255, 255), "white"), ((128, 128, 128), "grey"),
    ],
)  # fmt: skip
def test_each_colour_is_named_as_people_name_it(rgb, name):
    assert picture_colours(Image.new("RGB", (40, 40), rgb)) == [name]


def _drawing(fill: tuple[int, int, int], ground: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    """A disc of ``fill`` on a plain ground, a quarter of the picture or so."""
    image = Image.new(mode, (100, 100), ground)
    ImageDraw.Draw(image).ellipse((25, 25, 75, 75), fill=fill)
    return image


def test_a_plain_background_is_not_the_pictures_colour():
    """Tux Paint's SVGs are drawn on white: "A yellow pear." was white first."""
    assert picture_colours(_drawing((250, 220, 0), (255, 255, 255))) == ["yellow"]
    transparent = _drawing((0, 0, 200, 255), (0, 0, 0, 0), "RGBA")
    assert picture_colours(transparent) == ["blue"]  # transparent pixels are never counted


def test_a_picture_all_of_its_background_colour_keeps_it():
    snow = _drawing((250, 250, 250), (255, 255, 255))
    assert picture_colours(snow) == ["white"]


def test_a_scene_to_the_edges_counts_every_colour():
    image = Image.new("RGB", (100, 100), (30, 120, 30))  # grass
    ImageDraw.Draw(image).rectangle((0, 0, 99, 39), fill=(80, 140, 230))  # sky
    assert picture_colours(image) == ["green", "blue"]
    shares = colour_shares(image)
    assert shares["green"] == pytest.approx(0.6, abs=0.02) and sum(shares.values()) == (
        pytest.approx(1.0)
    )


def test_questions_name_colours_by_their_words():
    assert colours_named("Do you have anything yellow?") == ["yellow"]
    assert colours_named("a gray or violet thing") == ["grey", "purple"]
    assert colours_named("a frog") == []


def test_pictures_match_the_colours_a_question_names_by_rank():
    colours = PictureColours(["duck", "banana", "frog", "bare"], ["yellow", "yellow brown",
                                                                 "green yellow", ""])  # fmt: skip
    assert colours.match("something yellow") == {"duck": 1.0, "banana": 1.0, "frog": 0.7}
    assert colours.match("yellow and brown")["banana"] == pytest.approx(0.85)
    assert colours.match("a frog") == {}
    assert colours.match("something yellow", top=2) == {"duck": 1.0, "banana": 1.0}


def test_real_stamps_are_named_by_their_colours(stamps_root):
    """Tux Paint stamps whose caption names a colour that fills them."""
    from retrieval.images import load_image

    for name, colour in (("banana.png", "yellow"), ("apple_fuji.png", "red")):
        path = next(stamps_root.rglob(name))
        assert colour in picture_colours(load_image(path, keep_alpha=True)), name
