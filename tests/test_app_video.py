"""A person asks about something said in a video: the served app answers with the moment and
plays the video from there, in headless Chromium (real server, real clips made here)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from retrieval.datasets.clips import Scene, make_slideshow
from retrieval.datasets.tuxpaint import captioned_stamps
from tests.conftest import speak
from tests.serving import served
from tests.test_app import _wait_for_new_answer, browser, playwright, shots  # noqa: F401


@pytest.fixture(scope="module")
def video_server(tmp_path_factory, stamps_root, model_cache):
    root = tmp_path_factory.mktemp("video-library")
    stamps = [(p, c) for p, c in captioned_stamps(stamps_root) if p.suffix == ".png"]

    def pick(keyword: str) -> Path:
        return next(p for p, c in stamps if keyword in c.lower())

    secret = speak("the treasure is buried under the old lighthouse", root / "secret.wav")
    scenes = [Scene(pick("tractor")), Scene(pick("saturn"), sound=secret), Scene(pick("penguin"))]
    make_slideshow(root / "farm_and_space.mp4", scenes)
    make_slideshow(root / "fruit_and_frogs.mp4", [Scene(pick(k)) for k in ("frog", "banana")])
    secret.unlink()
    for keyword in ("owl", "violin"):
        shutil.copy(pick(keyword), root / pick(keyword).name)
        shutil.copy(
            pick(keyword).with_suffix(".txt"), root / pick(keyword).with_suffix(".txt").name
        )
    with served(tmp_path_factory.mktemp("video-served"), root, model_cache) as server:
        yield server.url


def test_a_video_moment_is_cited_and_plays_from_there(video_server, browser, shots):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(video_server + "/")
    page.wait_for_selector("#message textarea", timeout=60_000)
    box = page.locator("#message textarea")
    box.fill("Where is the treasure buried?")
    box.press("Enter")
    answer = _wait_for_new_answer(page, 0)
    moment = re.search(r"at (\d+):(\d\d)", answer)
    assert moment and "farm and space" in answer and "treasure" in answer.lower(), answer
    seconds = int(moment.group(1)) * 60 + int(moment.group(2))
    assert abs(seconds - 5.5) <= 2
    player = page.locator("#chat video").first
    source = player.get_attribute("src")
    assert source.startswith("/media/") and "#t=" in source
    start = float(source.split("#t=")[1])
    state = page.evaluate(
        """async () => {
            const video = document.querySelector('#chat video');
            video.muted = true;
            await video.play();
            await new Promise((done) => setTimeout(done, 1500));
            return {paused: video.paused, time: video.currentTime, error: video.error,
                    duration: video.duration};
        }"""
    )
    assert state["error"] is None and not state["paused"]
    assert start < state["time"] < start + 5  # it plays, from the moment (not from 0:00)
    assert state["duration"] == pytest.approx(15, abs=0.5)
    results = page.locator("#sounds").inner_text()
    assert "farm and space" in results and "lighthouse" in results
    page.screenshot(path=shots / "video-moment.png", full_page=True)
