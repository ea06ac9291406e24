"""Video items: real slideshow clips made here from Tux Paint stamps and recorded or spoken
descriptions, ingested with the real encoder, Whisper and Chroma."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retrieval.datasets.clips import Scene, make_slideshow, scene_starts
from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.discovery import discover
from retrieval.errors import MediaError
from retrieval.index import MediaIndex
from retrieval.ingest import Ingestor
from retrieval.video import format_moment, keyframes, probe_video
from tests.conftest import speak

KEYWORDS = ("frog", "guitar", "banana", "tractor", "saturn", "penguin")
SECRET = "the treasure is buried under the old lighthouse"


def _stamp(stamps_root: Path, keyword: str) -> tuple[Path, str]:
    return next(
        (p, c)
        for p, c in captioned_stamps(stamps_root)
        if keyword in c.lower() and p.suffix == ".png"
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory, stamps_root) -> dict:
    """Two clips of three scenes (5 s each); the second's middle scene says SECRET aloud."""
    root = tmp_path_factory.mktemp("videos")
    stamps = {k: _stamp(stamps_root, k) for k in KEYWORDS}
    secret = speak(SECRET, root / "secret.wav")
    first = [Scene(stamps[k][0]) for k in KEYWORDS[:3]]
    second = [Scene(stamps[k][0]) for k in KEYWORDS[3:]]
    second[1] = Scene(stamps[KEYWORDS[4]][0], sound=secret)
    library = root / "library"
    library.mkdir()
    make_slideshow(library / "fruit_and_frogs.mp4", first)
    make_slideshow(library / "farm_and_space.mp4", second)
    secret.unlink()
    return {"library": library, "stamps": stamps, "starts": scene_starts(first)}


@pytest.fixture(scope="module")
def video_index(tmp_path_factory, clips, default_encoder):
    from assistant.speech import load_transcriber

    index = MediaIndex(
        tmp_path_factory.mktemp("video-index"),
        encoder_name=default_encoder.name,
        dim=default_encoder.dim,
    )
    transcriber = load_transcriber()
    report = Ingestor(index, default_encoder, transcribe=transcriber.transcribe).ingest(
        discover(clips["library"]), progress=False
    )
    assert report.added == 2, report.summary()
    return index


def test_keyframes_are_taken_at_scene_changes(clips):
    frames = keyframes(clips["library"] / "fruit_and_frogs.mp4")
    times = [f.time for f in frames]
    assert len(times) == 3, times
    for found, start in zip(times, clips["starts"], strict=True):
        assert abs(found - start) <= 0.5
    info = probe_video(clips["library"] / "fruit_and_frogs.mp4")
    assert info.seconds == pytest.approx(15.0, abs=0.2)
    assert not info.has_audio


def test_a_description_finds_the_video_and_the_moment(clips, video_index, default_encoder):
    _, caption = clips["stamps"]["banana"]  # third scene of the first clip, from 10 s
    hits = video_index.query(default_encoder.encode_texts([caption])[0], k=5)
    best = hits[0]
    assert best.modality == "video"
    assert Path(best.uri).name == "fruit_and_frogs.mp4"
    assert best.part == "keyframe"
    assert best.moment is not None and abs(best.moment - 10.0) <= 2.0
    assert best.metadata["duration"] == pytest.approx(15.0, abs=0.2)


def test_what_is_said_in_a_video_is_searchable_at_its_moment(video_index, default_encoder):
    hits = video_index.query(default_encoder.encode_texts(["where is the treasure buried"])[0], k=3)
    spoken = next(h for h in hits if h.part == "speech")
    assert Path(spoken.uri).name == "farm_and_space.mp4"
    assert "treasure" in spoken.part_text.lower()
    assert spoken.moment is not None and abs(spoken.moment - 5.5) <= 2.0
    item = video_index.get(spoken.item_id)
    assert "lighthouse" in str(item.metadata["transcript"]).lower()


def test_reingesting_a_video_adds_nothing_and_keeps_one_set_of_parts(
    clips, video_index, default_encoder
):
    before = video_index.collections["part"].count()
    again = Ingestor(video_index, default_encoder).ingest(
        discover(clips["library"]), progress=False
    )
    assert (again.added, again.duplicates) == (0, 2)
    assert video_index.collections["part"].count() == before
    video_id = video_index.ids_of("video", 1)[0]
    video_index.delete([video_id])
    assert video_index.get(video_id) is None
    assert video_index.collections["part"].count() < before


def test_bad_videos_are_refused_with_reasons_and_sound_only_webm_is_audio(
    tmp_path, clips, default_encoder
):
    import av
    import numpy as np

    good = clips["library"] / "fruit_and_frogs.mp4"
    (tmp_path / "broken.mp4").write_bytes(good.read_bytes()[:3000])
    (tmp_path / "empty.mov").write_bytes(b"")
    (tmp_path / "notes.mkv").write_text("this is a text file, not a video")
    with av.open(str(tmp_path / "voice.webm"), "w") as container:  # sound only
        stream = container.add_stream("libopus", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 48000), np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            container.mux(packet)
        container.mux(stream.encode(None))
    records = discover(tmp_path)
    kinds = {r.path.name: r.modality for r in records}
    assert kinds["voice.webm"] == "audio"
    assert kinds["broken.mp4"] == "video"
    index = MediaIndex(
        tmp_path / "index", encoder_name=default_encoder.name, dim=default_encoder.dim
    )
    report = Ingestor(index, default_encoder).ingest(
        [r for r in records if r.modality == "video"], progress=False
    )
    reasons = {Path(where).name: why for where, why in report.refused}
    assert report.added == 0
    assert "empty" in reasons["empty.mov"]
    assert "not a readable video" in reasons["notes.mkv"]
    assert "broken.mp4" in reasons
    with pytest.raises(MediaError, match="limit"):
        probe_video(good, max_seconds=10)


def test_a_manifest_row_can_name_a_video(tmp_path, clips):
    manifest = tmp_path / "m.jsonl"
    video = clips["library"] / "farm_and_space.mp4"
    manifest.write_text(json.dumps({"video": str(video), "caption": "a farm and space"}) + "\n")
    (record,) = discover(manifest)
    assert (record.modality, record.caption) == ("video", "a farm and space")
    shutil.copy(video, tmp_path / "copy.mp4")
    (single,) = discover(tmp_path / "copy.mp4")
    assert (single.modality, single.caption) == ("video", "copy")


def test_moments_are_written_as_people_read_them():
    assert [format_moment(s) for s in (0, 42.4, 61, 3725)] == ["0:00", "0:42", "1:01", "1:02:05"]


@pytest.fixture(scope="module")
def video_assistant(tmp_path_factory, clips, model_cache):
    from assistant.service import Assistant, AssistantConfig
    from assistant.speech import load_transcriber
    from retrieval.library import Library, LibraryConfig

    config = LibraryConfig(tmp_path_factory.mktemp("video-home"), "default", None, model_cache)
    library = Library(config)
    report = library.ingest(
        clips["library"], progress=False, transcribe=load_transcriber().transcribe
    )
    assert report.added == 2
    return Assistant(AssistantConfig(config), library=library)


def test_the_assistant_cites_the_moment_of_a_video(video_assistant):
    reply = video_assistant.turn("vera", "v1", "Where is the treasure buried?")
    cited = [c for c in reply.citations if c.modality == "video"]
    assert cited, reply.answer
    assert Path(cited[0].uri).name == "farm_and_space.mp4"
    assert cited[0].moment is not None and abs(cited[0].moment - 5.5) <= 2.0
    assert f"at {format_moment(cited[0].moment)}" in reply.answer
    assert "treasure" in reply.answer.lower()
    result = next(r for r in reply.results if r.item_id == cited[0].item_id)
    assert result.moment == cited[0].moment and "lighthouse" in result.evidence.lower()


def test_a_sound_track_too_long_to_transcribe_keeps_the_video_by_its_pictures(
    tmp_path, clips, default_encoder
):
    from assistant.speech import load_transcriber

    index = MediaIndex(
        tmp_path / "index", encoder_name=default_encoder.name, dim=default_encoder.dim
    )
    short = load_transcriber(max_seconds=3)  # the 15 s sound track is over its limit
    video = clips["library"] / "farm_and_space.mp4"
    report = Ingestor(index, default_encoder, transcribe=short.transcribe).ingest(
        discover(video), progress=False
    )
    assert report.added == 1, report.summary()
    item = index.get(report.added_ids[0])
    assert item.metadata["keyframes"] == 3 and item.metadata["is_speech"] is False
    assert "limit" in str(item.metadata["speech_not_transcribed"])
