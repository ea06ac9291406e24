"""Spoken answers: real espeak-ng, real Whisper, a real served app in headless Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
import wave
from pathlib import Path

import pytest

from assistant.errors import SpeechError
from assistant.speech.tts import (
    REST_ON_SCREEN,
    Speaker,
    speakable,
    synthesise,
    voice_for,
    wav_seconds,
)
from tests.conftest import speak
from tests.serving import served
from tests.test_app import CHROMIUM, _wait_for_new_answer

FROG = "Yes, I have a green frog sitting on a log by the pond [1]."


def _wav(path: Path) -> tuple[int, int, float]:
    with wave.open(str(path), "rb") as audio:
        return audio.getnchannels(), audio.getframerate(), audio.getnframes() / audio.getframerate()


@pytest.mark.parametrize(
    ("language", "text", "voice"),
    [
        ("en", FROG, "en-us"),
        ("zh", "有的，我有一只绿色的青蛙坐在池塘边的木头上[1]。", "cmn-latn-pinyin"),
    ],
)
def test_an_answer_becomes_a_wav_of_plausible_length(tmp_path, language, text, voice):
    said = Speaker(tmp_path).speak(text, language)
    channels, rate, seconds = _wav(said.path)
    assert said.voice == voice == voice_for(language)
    assert channels == 1 and rate == 22_050
    assert 1.5 < seconds < 8.0, seconds  # about a dozen words or syllables at 165 wpm
    assert said.audio_seconds == pytest.approx(seconds)
    assert not said.cached and said.seconds_taken < 5


def test_a_replay_comes_from_the_cache(tmp_path):
    speaker = Speaker(tmp_path)
    first = speaker.speak(FROG)
    made = first.path.stat().st_mtime_ns
    again = Speaker(tmp_path).speak(FROG)  # another process, the same folder
    assert again.cached and again.path == first.path and again.path.stat().st_mtime_ns == made
    other = speaker.speak(FROG, "es")  # the same words in another voice are another file
    assert other.key != first.key and other.voice == "es"
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".json", ".wav", ".wav"]


def test_replicas_over_one_database_speak_what_any_of_them_registered(tmp_path, database_url):
    """A Listen button's request may reach another app process than the one that answered:
    with the registrations in the database, that one speaks it (into its own folder)."""
    from assistant.speech.shared import SharedSpokenTexts
    from recsys.store import InteractionStore

    engine = InteractionStore(database_url).engine
    first = Speaker(tmp_path / "a", shared=SharedSpokenTexts(engine))
    second = Speaker(tmp_path / "b", shared=SharedSpokenTexts(engine))
    key = first.register(FROG)
    said = second.audio(key)
    assert said.path.parent == tmp_path / "b" and said.text == speakable(FROG)
    assert first.register(FROG) == key  # registered twice: one row
    with pytest.raises(SpeechError, match="no answer to speak"):
        Speaker(tmp_path / "c").audio(key)  # no database: only its own folder's keys


def test_citation_markers_and_markup_are_not_spoken(tmp_path):
    answer = "Here is **“A frog.”** [1] and [[2]](/media/0123) a toad [3, 4].\n- ![x](/media/9)"
    assert speakable(answer) == "Here is “A frog.” and a toad."
    speaker = Speaker(tmp_path)
    assert speaker.register(answer) == speaker.register("Here is “A frog.” and a toad.")
    with pytest.raises(SpeechError, match="nothing to say"):
        speaker.register("[1] [2]")


def test_a_long_answer_is_cut_at_a_sentence_with_a_note(tmp_path):
    long = " ".join(f"Item number {n} is a picture of a frog." for n in range(100))
    spoken = speakable(long, "de", max_chars=200)
    assert len(spoken) < 200 + len(REST_ON_SCREEN["de"]) + 2
    assert spoken.endswith("frog. " + REST_ON_SCREEN["de"])
    said = Speaker(tmp_path, max_chars=200).speak(long)
    assert said.audio_seconds < 25


def test_japanese_is_spoken_in_kana_and_kanji_is_refused(tmp_path):
    """espeak-ng's Japanese voice says "Chinese letter" for every kanji: such answers get a
    typed refusal (no Listen button) instead of that."""
    speaker = Speaker(tmp_path)
    assert speaker.speak("はい、あります：カエル[1]。", "ja").audio_seconds > 0.8
    with pytest.raises(SpeechError, match="kana but not kanji"):
        speaker.speak("ライブラリにこの画像に似たものはありません。", "ja")


def test_without_espeak_ng_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no espeak-ng on it
    speaker = Speaker(tmp_path / "cache")
    with pytest.raises(SpeechError, match=r"espeak-ng is not installed.*apt-get install espeak-ng"):
        speaker.speak(FROG)


def test_unknown_keys_and_voices_are_typed_errors(tmp_path):
    speaker = Speaker(tmp_path)
    with pytest.raises(SpeechError, match="not a speech key"):
        speaker.audio("../../etc/passwd")
    with pytest.raises(SpeechError, match="no answer to speak"):
        speaker.audio("0" * 32)
    with pytest.raises(SpeechError, match="could not speak with voice 'xx-nowhere'"):
        synthesise("hello", tmp_path / "x.wav", voice="xx-nowhere")
    assert not (tmp_path / "x.wav").exists() and not list(tmp_path.glob(".partial-*"))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF nonsense")
    with pytest.raises(SpeechError, match="not a readable WAV"):
        wav_seconds(broken)


def test_whisper_hears_the_words_that_were_spoken(tmp_path):
    """Round trip: the spoken answer, transcribed by the packaged Whisper, gives its words back."""
    from assistant.speech import load_transcriber
    from assistant.speech.scoring import error_rates, normalise

    said = Speaker(tmp_path).speak("Here is a picture of a green frog sitting on a log [1].")
    heard = load_transcriber().transcribe(said.path, language="en")
    words = normalise(heard.text).split()
    assert {"picture", "green", "frog", "log"} <= set(words), heard.text
    assert error_rates([said.text], [heard.text])["wer"] <= 0.25, heard.text
    assert "1" not in words and "one" not in words  # the citation marker was not read out


# -- the served app --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speaking_app(served_library, model_cache):
    """A server whose data folder, like a user's, is neither in the system's temp folder nor in
    its working directory (the two places Gradio serves a handler's files from)."""
    workdir = Path(tempfile.mkdtemp(prefix="crossmedia-speaking-", dir="/var/tmp"))
    try:
        with served(workdir, served_library, model_cache) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (scripts/setup.sh --test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance.chromium


def _audio_state(page) -> dict:
    return page.evaluate(
        """() => { const a = document.getElementById('speech-audio');
                   return a ? {src: a.currentSrc || a.src, duration: a.duration,
                               paused: a.paused, time: a.currentTime} : null; }"""
    )


def _wait_until_playing(page) -> dict:
    """The player's state once it plays (time advancing), with the pressed button's label."""
    return page.wait_for_function(
        """() => { const a = document.getElementById('speech-audio');
                   const b = document.querySelector('#chat a.speak[aria-pressed=true]');
                   return a && a.duration > 0 && !a.paused && a.currentTime > 0.2 &&
                          {src: a.currentSrc, duration: a.duration,
                           pressed: b && b.getAttribute('aria-label')}; }""",
        timeout=30_000,
        polling=50,
    ).json_value()


def test_an_answer_is_read_out_on_listen_and_a_spoken_question_by_itself(
    speaking_app, chromium, tmp_path
):
    """Text question: silent until Listen is pressed, then its WAV plays. Voice question (on a
    390 px phone): its answer is read out by itself (the default setting). "Every answer"
    chosen, kept across a reload: a typed question's answer is read out too."""
    import httpx

    shots = Path(os.environ.get("CROSSMEDIA_TEST_OUTPUT", "test-output")) / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    browser = chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(speaking_app.url + "/")
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.locator("#message textarea").fill("Do you have a picture of a frog?")
        page.locator("#message textarea").press("Enter")
        _wait_for_new_answer(page, 0)
        listen = page.locator("#chat .bot").last.get_by_role("button", name="Listen to this answer")
        listen.wait_for(timeout=10_000)
        page.wait_for_timeout(1000)
        assert not (_audio_state(page) or {}).get("src")  # a typed question is not read out
        listen.click()
        playing = _wait_until_playing(page)
        assert playing["src"].endswith(".wav") and "/speech/" in playing["src"], playing
        wav = httpx.get(playing["src"], timeout=30)
        assert wav.headers["content-type"] == "audio/wav" and wav.content[:4] == b"RIFF"
        assert playing["pressed"] == "Stop reading this answer", playing
        page.screenshot(path=shots / "20-listen.png")
        stopped = page.evaluate(  # pressed again while it plays: it stops (one page tick)
            """() => { const a = document.getElementById('speech-audio');
                       const b = document.querySelector('#chat a.speak[aria-pressed=true]');
                       if (!b || a.paused) return 'ended first';
                       b.click(); return [a.paused, b.getAttribute('aria-label')]; }"""
        )
        assert stopped in ("ended first", [True, "Listen to this answer"]), stopped

        page.set_viewport_size({"width": 390, "height": 844})
        clip = speak("Do you have a picture of a banana?", tmp_path / "question.wav")
        page.locator("#message input[type=file]").set_input_files(str(clip))
        page.wait_for_timeout(1000)
        page.locator("#message textarea").press("Enter")
        _wait_for_new_answer(page, 1, needle="banana")
        playing = _wait_until_playing(page)  # nobody pressed anything
        bubble = page.locator("#chat .bot").last
        assert playing["src"] == bubble.locator("a.speak").evaluate(
            "b => { const u = new URL(b.href); u.search = ''; return u.href; }"
        )
        button, edge = bubble.locator("a.speak").bounding_box(), bubble.bounding_box()
        assert button and edge and button["x"] + button["width"] <= edge["x"] + edge["width"] + 1
        page.screenshot(path=shots / "21-phone-spoken.png")

        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_label("Toggle Sidebar").click()
        page.wait_for_timeout(600)  # the sidebar slides in
        page.get_by_label("Every answer").check()
        page.screenshot(path=shots / "22-speak-every-answer.png")
        page.wait_for_timeout(1000)
        page.reload()  # the setting is this browser's, kept across visits
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.locator("#message textarea").fill("a duck")
        page.locator("#message textarea").press("Enter")
        _wait_for_new_answer(page, 0)
        assert "/speech/" in _wait_until_playing(page)["src"]  # a typed question, read out
    finally:
        browser.close()
    assert "Traceback" not in speaking_app.log_text()


def test_the_speak_endpoint_returns_a_wav(speaking_app):
    from gradio_client import Client

    client = Client(speaking_app.url + "/", verbose=False)
    path = client.predict("Bonjour, j'ai une grenouille [1].", "fr", api_name="/speak")
    channels, _, seconds = _wav(Path(path))
    assert channels == 1 and 0.8 < seconds < 6


def test_the_cache_keeps_the_newest_answers_and_those_said_again(tmp_path):
    speaker = Speaker(tmp_path / "cache", max_files=10)
    kept = speaker.register("The answer everyone asks for.")
    for n in range(40):
        speaker.register(f"Answer number {n}.")
        if n % 4 == 0:
            assert speaker.register("The answer everyone asks for.") == kept  # said again
    entries = list((tmp_path / "cache").glob("*.json"))
    assert 10 <= len(entries) <= 11  # pruned now and then, never far over the limit
    assert (tmp_path / "cache" / f"{kept}.json").exists()
    newest = speaker.register("Answer number 39.")
    assert (tmp_path / "cache" / f"{newest}.json").exists()
