"""Speech: decoding every format a browser or a phone sends, Whisper transcription, scoring."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import AudioError, SpeechError
from assistant.speech import load_transcriber
from assistant.speech.audio import SAMPLE_RATE, decode_audio
from assistant.speech.scoring import error_rates, normalise
from tests.conftest import speak

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs espeak-ng (scripts/setup.sh --test)"
)


def reencode(
    source: Path, target: Path, codec: str, rate: int = 44_100, layout: str = "stereo"
) -> Path:
    """Re-encode a clip with PyAV into another container/codec, sample rate and channel layout."""
    import av

    samples = decode_audio(source)
    with av.open(str(target), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        resampled = np.interp(
            np.arange(0, len(samples), SAMPLE_RATE / rate), np.arange(len(samples)), samples
        )
        frame_data = np.tile(resampled.astype(np.float32), (2 if layout == "stereo" else 1, 1))
        frame = av.AudioFrame.from_ndarray(frame_data, format="fltp", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return target


@pytest.fixture(scope="module")
def frog_clip(tmp_path_factory) -> Path:
    return speak("show me a picture of a frog", tmp_path_factory.mktemp("speech") / "frog.wav")


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("ogg", "libopus"),
        ("flac", "flac"),
        ("webm", "libopus"),
        ("m4a", "aac"),
        ("mp3", "libmp3lame"),
    ],
)
def test_formats_rates_and_channels_decode_to_16k_mono(frog_clip, tmp_path, suffix, codec):
    reference = decode_audio(frog_clip)
    rate = 48_000 if codec == "libopus" else 44_100
    clip = reencode(frog_clip, tmp_path / f"clip.{suffix}", codec, rate=rate)
    samples = decode_audio(clip)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - len(reference)) < 0.15 * SAMPLE_RATE  # codecs pad a little
    assert np.abs(samples).max() <= 1.0 and np.abs(samples).max() > 0.05


def test_bad_audio_is_refused_clearly(tmp_path, frog_clip):
    (tmp_path / "notes.wav").write_text("this is not a recording")
    with pytest.raises(AudioError, match="not a readable audio file"):
        decode_audio(tmp_path / "notes.wav")
    (tmp_path / "empty.ogg").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        decode_audio(tmp_path / "empty.ogg")
    with pytest.raises(AudioError, match="not found"):
        decode_audio(tmp_path / "missing.mp3")
    with pytest.raises(AudioError, match="longer than the 1 s limit"):
        decode_audio(frog_clip, max_seconds=1)
    from tests.conftest import draw_picture

    with pytest.raises(AudioError):
        decode_audio(draw_picture(tmp_path / "picture.png"))


def test_tiny_en_transcribes_speech_and_times_it(frog_clip):
    transcript = load_transcriber().transcribe(frog_clip)
    assert normalise(transcript.text) == "show me a picture of a frog"
    assert transcript.language == "en" and transcript.is_speech
    assert transcript.segments and transcript.segments[0].start >= 0
    assert transcript.seconds > 0 and transcript.audio_seconds == pytest.approx(
        len(decode_audio(frog_clip)) / SAMPLE_RATE, abs=0.01
    )
    assert transcript.to_dict()["rtf"] > 0


def test_silence_and_noise_are_not_given_a_transcript():
    transcriber = load_transcriber()
    assert not transcriber.transcribe(np.zeros(3 * SAMPLE_RATE, np.float32)).is_speech
    noise = np.random.default_rng(0).normal(0, 0.05, 3 * SAMPLE_RATE).astype(np.float32)
    assert not transcriber.transcribe(noise).is_speech


def _joined_recordings(clips: list[Path], target: Path) -> Path:
    """Several real recordings, 0.4 s apart, as one 16 kHz WAV."""
    import wave

    pause = np.zeros(int(0.4 * SAMPLE_RATE), dtype=np.float32)
    audio = np.concatenate([part for clip in clips for part in (decode_audio(clip), pause)])
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return target


def test_multilingual_model_detects_the_language_of_real_recordings(stamps_root, tmp_path):
    """Tux Paint's recorded stamp descriptions in Spanish and French. One description lasts a
    second or two, too short to tell a language by (measured on 10 clips each: 6/10 es, 5/10 fr,
    and the wrong guesses change with the CPU); three recordings of five descriptions each (about
    9 s) are told apart far better (measured 3/3 fr, 2/3 es), so each language must win at least
    two of its three."""
    transcriber = load_transcriber(model="multilingual")
    for language in ("es", "fr"):
        clips = sorted(stamps_root.rglob(f"*_desc_{language}.ogg"))
        detected = [
            transcriber.transcribe(
                _joined_recordings(
                    clips[start : start + 250 : 50], tmp_path / f"{language}{start}.wav"
                )
            ).language
            for start in (0, 50, 100)
        ]
        assert detected.count(language) >= 2, (language, detected)
    first = transcriber.transcribe(tmp_path / "fr0.wav", language="fr")
    assert normalise(first.text, language="fr").startswith("une grenouille")


def test_a_short_recording_is_told_among_the_languages_expected(stamps_root):
    """One description of a second or two is too little to tell a language among Whisper's 99:
    on the DEV folders base heard 19 of 30 Spanish ones as Spanish, the rest as Italian,
    Portuguese or Hindi. Among the languages the user's browser names (Spanish, then English)
    it heard 25 of 30, and every English one stayed English. On these 20 + 10 clips (evenly
    spread over all folders) 19 and 10 were heard right here (12 Spanish among all languages);
    the floor leaves room for other CPUs. The language reported is always one expected, and how
    sure it is counts among them alone."""
    transcriber = load_transcriber(model="multilingual")
    spanish = sorted(stamps_root.rglob("*_desc_es.ogg"))
    english = sorted(stamps_root.rglob("*_desc.ogg"))
    clips = [*spanish[:: len(spanish) // 20][:20], *english[:: len(english) // 10][:10]]
    heard = [transcriber.transcribe(clip, expected=("es", "en")) for clip in clips]
    assert all(h.language in ("es", "en") and 0.5 <= h.language_probability <= 1 for h in heard)
    assert [h.language for h in heard[20:]] == ["en"] * 10
    right = sum(h.language == "es" for h in heard[:20])
    assert right >= 15, [(c.name, h.language, h.text) for c, h in zip(clips, heard, strict=True)]
    assert transcriber.transcribe(clips[0], expected=("xx",)).language  # none known: all


def test_the_likeliest_expected_language_is_renormalised_and_ignores_a_broken_model():
    from assistant.speech.transcript import likeliest_expected

    heard = [("it", 0.5), ("es", 0.3), ("en", 0.1), ("pt", 0.1)]
    assert likeliest_expected(heard, ("es", "en")) == ("es", pytest.approx(0.75))
    assert likeliest_expected(heard, ("xx",)) is None  # none of them: Whisper's own guess
    assert likeliest_expected([("es", float("nan")), ("en", float("nan"))], ("es", "en")) is None


def test_sound_effects_get_no_hallucinated_transcript(stamps_root):
    transcriber = load_transcriber()
    for name in ("frog", "duck", "rooster", "bee", "crow"):
        clip = next(stamps_root.rglob(f"{name}.ogg"))
        assert not transcriber.transcribe(clip).is_speech, name


def test_the_same_sound_is_heard_the_same_every_time(stamps_root):
    """A sound effect's transcript is its content vector at ingest: with Whisper's temperature
    fallback, "a_with_umlaut_filled.ogg" was heard as "Hey." or "Eh?" from run to run, so two
    ingests of one library disagreed. Decoding once at temperature 0 is deterministic."""
    clip = next(stamps_root.rglob("a_with_umlaut_filled.ogg"))
    transcriber = load_transcriber()
    heard = {transcriber.transcribe(clip).text for _ in range(4)}
    assert len(heard) == 1, heard


def test_openai_whisper_loader_on_a_tiny_random_checkpoint(tmp_path):
    pytest.importorskip("whisper")
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=448,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    checkpoint = tmp_path / "tiny-random.pt"
    torch.save(
        {"dims": dataclasses.asdict(dims), "model_state_dict": Whisper(dims).state_dict()},
        checkpoint,
    )
    transcriber = load_transcriber("openai-whisper", str(checkpoint))
    transcript = transcriber.transcribe(np.zeros(SAMPLE_RATE, np.float32))
    assert transcript.engine == "openai-whisper" and transcript.model == str(checkpoint)
    assert transcript.language == "en" and isinstance(transcript.text, str)
    with pytest.raises(SpeechError, match="cannot load"):
        load_transcriber("openai-whisper", str(tmp_path / "missing.pt"))
    multilingual = tmp_path / "tiny-random-multilingual.pt"  # its vocabulary has the languages
    torch.manual_seed(0)
    model = Whisper(dataclasses.replace(dims, n_vocab=51865))
    # Whisper leaves the decoder's positional embedding uninitialised (torch.empty, filled by a
    # checkpoint): left so, it held NaN on CI and every language's probability was NaN
    torch.nn.init.normal_(model.decoder.positional_embedding, std=0.01)
    torch.save(
        {"dims": dataclasses.asdict(model.dims), "model_state_dict": model.state_dict()},
        multilingual,
    )
    transcriber = load_transcriber("openai-whisper", str(multilingual))
    noise = np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    for expected in (("fr", "en"), ("ja",), ("ro", "bg", "ca")):
        told = transcriber.transcribe(noise, expected=expected)
        assert told.language in expected and 0 < told.language_probability <= 1, told


def test_unknown_engine_and_model_are_clear_errors(tmp_path):
    with pytest.raises(SpeechError, match="unknown speech engine"):
        load_transcriber("kaldi")
    with pytest.raises(SpeechError, match="cannot load the Whisper model"):
        load_transcriber(model=str(tmp_path / "no-model-here"))


def test_error_rates_use_whisper_normalisation():
    rates = error_rates(["Mr. Smith paid $25."], ["mister smith paid 25 dollars"])
    assert rates["wer"] < 0.3
    assert error_rates(["a b c d"], ["a b x d"]) == {"wer": 0.25, "cer": round(1 / 7, 4)}


def test_british_and_american_spellings_score_as_the_same_words():
    """Whisper's English normaliser maps British spellings to American ones (its english.json)."""
    said = ["The colour of the centre is grey, and I apologise."]
    assert error_rates(said, ["the color of the center is gray and i apologize"])["wer"] == 0.0


def test_other_languages_are_normalised_by_their_own_rules():
    """Accents stay (they tell words apart); Chinese and Japanese are scored by character."""
    assert normalise("¡Qué niño!", language="es") == "qué niño"
    assert normalise("你们有猫的图片吗？", language="zh") == "你 们 有 猫 的 图 片 吗"
    rates = error_rates(["你们有猫的图片吗"], ["你们有狗的图片吗"], language="zh")
    assert rates["wer"] == round(1 / 8, 4)  # one character in eight


def test_spoken_query_finds_what_the_typed_query_finds(run, stamps_root, tmp_path, frog_clip):
    from retrieval.datasets.tuxpaint import captioned_stamps

    library = tmp_path / "library"
    library.mkdir()
    for keyword in ("frog", "guitar", "banana", "saturn"):
        path = next(p for p, c in captioned_stamps(stamps_root) if keyword in c.lower())
        shutil.copy(path, library / path.name)
        shutil.copy(path.with_suffix(".txt"), library / path.with_suffix(".txt").name)
    run("ingest", str(library))
    typed = json.loads(run("search", "show me a picture of a frog", "--json").stdout)
    spoken = json.loads(run("search", "--audio", str(frog_clip), "--json").stdout)
    assert normalise(spoken["query"]["heard"]) == "show me a picture of a frog"
    assert spoken["results"][0]["item_id"] == typed["results"][0]["item_id"]
    assert "frog" in spoken["results"][0]["caption"].lower()


def test_transcribe_and_eval_asr_commands(run, tmp_path, frog_clip):
    out = json.loads(run("transcribe", str(frog_clip), "--json").stdout)
    assert set(out) >= {"text", "language", "segments", "seconds", "rtf"}
    second = speak("where can I find a red guitar", tmp_path / "guitar.wav")
    manifest = tmp_path / "asr.jsonl"
    manifest.write_text(
        json.dumps({"audio": str(frog_clip), "text": "Show me a picture of a frog."})
        + "\n"
        + json.dumps({"audio": second.name, "text": "Where can I find a red guitar?"})
        + "\n"
    )
    result = json.loads(run("eval", "asr", "--manifest", str(manifest), "--json").stdout)
    assert result["n"] == 2 and result["wer"] <= 0.2 and 0 < result["rtf"] < 2
    assert result["engine"] == "faster-whisper" and result["model"] == "tiny.en"
    (tmp_path / "text.wav").write_text("hello")
    bad = run("transcribe", str(tmp_path / "text.wav"), check=False)
    assert bad.returncode == 2 and "not a readable audio file" in bad.stderr


def test_audio_items_are_ingested_with_transcripts_and_labels(run, tmp_path, stamps_root):
    library = tmp_path / "sounds"
    library.mkdir()
    frog = next(stamps_root.rglob("frog.ogg"))
    for suffix in (".ogg", ".png", ".txt"):
        shutil.copy(frog.with_suffix(suffix), library / f"frog{suffix}")
    shutil.copy(next(stamps_root.rglob("duck.ogg")), library / "duck_quack.ogg")
    speak("remember to buy bread and milk tomorrow", library / "shopping_note.wav")
    (library / "broken.mp3").write_text("not audio")
    summary = json.loads(run("ingest", str(library), "--json").stdout)
    assert summary["added"] == 4 and [r["source"] for r in summary["refused"]] == [
        str(library / "broken.mp3")
    ]
    note = json.loads(run("search", "buy groceries", "--modality", "audio", "--json").stdout)[
        "results"
    ][0]
    assert note["uri"].endswith("shopping_note.wav")
    assert note["metadata"]["is_speech"] is True
    assert normalise(note["metadata"]["transcript"]) == "remember to buy bread and milk tomorrow"
    duck = json.loads(run("search", "a duck", "--modality", "audio", "--json").stdout)["results"][0]
    assert (
        duck["caption"] == "duck quack" and duck["metadata"]["transcript"] == ""
    )  # a sound, no words
    frog_sound = json.loads(run("search", "a frog", "--modality", "audio", "--json").stdout)[
        "results"
    ][0]
    assert frog_sound["caption"] == "A frog."  # the stamp's sidecar caption labels its sound


def test_audio_length_limit_is_configurable_from_the_command(run, frog_clip):
    refused = run("transcribe", str(frog_clip), "--max-audio-seconds", "1", check=False)
    assert refused.returncode == 2 and "longer than the 1 s limit" in refused.stderr
