"""Generated descriptions for uncaptioned pictures and a person's corrections of them, on real
Tux Paint stamps, the real default encoder and a real Chroma index in temporary folders."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import ExifTags, Image

from retrieval.corrections import (
    PAIRS_FILE,
    CorrectionTextError,
    NotAPictureError,
    UnknownItemError,
    correct_caption,
    export_pairs,
)
from retrieval.datasets.pairs import load_pairs_jsonl
from retrieval.describe import (
    CONCEPT_FLOOR,
    Concept,
    PictureFacts,
    confident_concepts,
    describe_batch,
    folder_name,
    phrase,
    read_exif,
)
from retrieval.discovery import discover
from retrieval.ingest import Ingestor
from retrieval.items import MediaItem, content_id
from retrieval.library import Library, LibraryConfig
from retrieval.sidecar import sidecar_caption

# Stamps the image tower names confidently and rightly (bench/describe.py's calibration), with
# the words of the ImageNet concepts a right description contains.
PLAUSIBLE = {
    "food/fruit/banana.png": {"banana"},
    "food/fruit/strawberry.png": {"strawberry"},
    "hobbies/music/string/violin.png": {"violin", "fiddle", "cello"},
}
ROOT = Path(__file__).resolve().parent.parent


def uncaptioned_copies(stamps_root: Path, folder: Path) -> list[tuple[Path, str]]:
    """Copies of the PLAUSIBLE stamps without their sidecar captions, with those captions."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for name in PLAUSIBLE:
        source = stamps_root / name
        target = folder / f"IMG_{len(copies):04d}.png"
        shutil.copy(source, target)
        copies.append((target, sidecar_caption(source)))
    return copies


def add_uncaptioned(library: Library, files: list[Path], root: Path) -> list[MediaItem]:
    """The captionless pictures through the real ingest (folder metadata from ``root``, no
    OCR); their stored items in the order of ``files``."""
    wanted = set(files)
    records = [r for r in discover(root) if r.path in wanted]
    Ingestor(library.index, library.encoder).ingest(records, progress=False)
    return [library.index.get(content_id(f.read_bytes(), "image")) for f in files]


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory, stamps_root, model_cache) -> tuple[Path, list[MediaItem]]:
    """A data directory whose library holds the uncaptioned stamp copies and one sound."""
    root = tmp_path_factory.mktemp("pictures")
    copies = uncaptioned_copies(stamps_root, root / "holiday" / "market 2019")
    data_dir = tmp_path_factory.mktemp("data")
    library = Library(LibraryConfig(data_dir, "default", None, model_cache))
    items = add_uncaptioned(library, [p for p, _ in copies], root)
    sound = MediaItem.from_text("a rooster crowing at dawn")  # a non-picture item
    library.index.add([sound], library.encoder.encode_texts([sound.caption]))
    return data_dir, [*items, sound]


@pytest.fixture(scope="module")
def library(library_dir, model_cache) -> Library:
    return Library(LibraryConfig(library_dir[0], "default", None, model_cache))


def test_a_stamp_without_its_caption_is_described_by_a_plausible_concept(library, library_dir):
    for item, wanted in zip(library_dir[1], PLAUSIBLE.values(), strict=False):
        stored = library.index.get(item.id)
        text = str(stored.metadata["description"])
        assert stored.caption == "", "a generated description is never the human caption"
        assert stored.metadata["description_by"] == "generated"
        assert text.startswith("Looks like "), text
        assert any(word in text.lower() for word in wanted), text
        assert "in the folder “market 2019”" in text, text
        content = library.index.vector_of(item.id)[None, :]
        undescribed = library.encoder.fuse(content, np.zeros_like(content))[0]
        fused = library.index.vector_of(item.id, "fused")
        assert float(fused @ undescribed) < 0.999, "the description reaches the fused vector"


def test_only_confident_concepts_are_named():
    labels = [("tiger cat", CONCEPT_FLOOR), ("tabby cat", 0.5), ("lynx", CONCEPT_FLOOR - 0.01)]
    assert [c.name for c in confident_concepts(labels)] == ["tabby cat", "tiger cat"]
    assert confident_concepts([("lynx", CONCEPT_FLOOR / 2)]) == ()
    assert phrase(PictureFacts(confident_concepts([("lynx", 0.01)]))) == ""


def test_folder_names_people_gave_are_used_camera_folders_are_not():
    assert folder_name("holiday/beach 2019") == "beach 2019"
    assert folder_name("holiday\\beach  2019") == "beach 2019"
    for meaningless in (".", "", "DCIM", "DCIM/100APPLE", "Camera", "2019-07", "101_0203"):
        assert folder_name(meaningless) == "", meaningless


def test_exif_date_and_gps_written_in_a_jpeg_are_read_and_phrased(tmp_path, library):
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = "2020:01:01 00:00:00"  # when it was edited: not used
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2019:07:14 18:30:05"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (43.0, 17.0, 47.4),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (5.0, 22.0, 12.0),
        }
    )
    photo = tmp_path / "beach 2019" / "IMG_2031.jpg"
    photo.parent.mkdir()
    Image.new("RGB", (96, 64), "skyblue").save(photo, "JPEG", exif=exif)

    taken, place = read_exif(photo)
    assert taken == datetime(2019, 7, 14, 18, 30, 5)
    assert place == pytest.approx((43.2965, -5.37), abs=1e-4)
    assert read_exif(photo.read_bytes()) == (taken, place)

    batch = describe_batch(
        library.encoder,
        [Image.open(photo).convert("RGB")],
        [photo],
        ["beach 2019"],
        ["SUMMER JAZZ"],
    )
    text = batch.descriptions[0].text
    assert "in the folder “beach 2019”" in text
    assert "taken 14 July 2019 at 43.2965° N, 5.3700° W" in text
    assert text.endswith("; text in the picture: “SUMMER JAZZ”."), text
    assert batch.vectors.shape == (1, library.encoder.dim)
    stored = batch.descriptions[0].metadata()
    assert stored["taken"] == "2019-07-14T18:30:05" and stored["latitude"] == 43.2965
    (ingested,) = add_uncaptioned(library, [photo], tmp_path)  # EXIF of the decoded picture
    assert ingested.caption == "" and ingested.metadata["taken"] == "2019-07-14T18:30:05"
    assert "taken 14 July 2019" in str(ingested.metadata["description"])


def test_no_exif_no_date_and_a_bad_file_is_not_an_error(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert read_exif(plain) == (None, None)
    assert read_exif(b"not a picture") == (None, None)


def test_phrase_without_concepts_still_says_what_is_known():
    facts = PictureFacts(text="  SUMMER\n JAZZ ", folder="DCIM", taken=datetime(2019, 7, 14))
    assert phrase(facts) == "Taken 14 July 2019; text in the picture: “SUMMER JAZZ”."
    assert phrase(PictureFacts((Concept("umbrella", 0.9),))) == "Looks like an umbrella."


def test_a_correction_becomes_the_caption_and_a_training_pair(library, library_dir, tmp_path):
    data_dir, items = library_dir
    target = items[1]
    words = "grandmother's prize-winning red strawberry jam label"
    before_content = library.index.vector_of(target.id, "content")
    assert library.index.vector_of(target.id, "caption") is None

    done = correct_caption(library.index, library.encoder, target.id, f"  {words} ", data_dir)

    stored = library.index.get(target.id)
    assert stored.caption == words
    assert stored.metadata["description_by"] == "person"
    assert str(stored.metadata["generated_description"]).startswith("Looks like")
    assert stored.metadata["folder"] == "holiday/market 2019"  # other metadata kept
    np.testing.assert_allclose(library.index.vector_of(target.id, "content"), before_content)
    caption_vector = library.index.vector_of(target.id, "caption")
    np.testing.assert_allclose(caption_vector, library.encoder.encode_texts([words])[0], atol=1e-5)
    assert library.search(words, k=1)[0].item_id == target.id
    assert library.search(words, k=1, kinds=("fused",))[0].item_id == target.id

    assert "crossmedia corrections --out" in done.train_command
    assert (
        "crossmedia train --pairs" in done.train_command and "--init default" in done.train_command
    )
    exported = tmp_path / "pairs.jsonl"
    assert export_pairs(library.index, exported) >= 1
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {"image": target.uri, "caption": words} in lines
    pairs = load_pairs_jsonl(exported)
    assert Path(target.uri) in pairs.images and words in pairs.captions

    again = "a jar of strawberry jam with a red label"
    correct_caption(library.index, library.encoder, target.id, again, data_dir)
    export_pairs(library.index, exported)  # the current caption only, once per picture
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [line["caption"] for line in lines if line["image"] == target.uri] == [again]


def test_corrections_are_refused_with_a_reason(library, library_dir):
    data_dir, items = library_dir
    with pytest.raises(UnknownItemError, match="search --json"):
        correct_caption(library.index, library.encoder, "0" * 32, "a cat", data_dir)
    with pytest.raises(NotAPictureError, match="only pictures"):
        correct_caption(library.index, library.encoder, items[-1].id, "a cock", data_dir)
    for bad in ("", "   \n ", "x" * 2001):
        with pytest.raises(CorrectionTextError):
            correct_caption(library.index, library.encoder, items[0].id, bad, data_dir)


def test_two_processes_correcting_at_once_lose_nothing(library_dir, model_cache, tmp_path):
    data_dir, items = library_dir
    pictures = [item.id for item in items if item.modality == "image"]
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from retrieval.corrections import correct_caption
        from retrieval.library import Library, LibraryConfig
        data_dir, cache, worker, *ids = sys.argv[1:]
        library = Library(LibraryConfig(Path(data_dir), "default", None, Path(cache)))
        print("ready", flush=True)
        sys.stdin.readline()  # both start correcting together
        for n in range(6):  # each corrects its own pictures, the last time with "final"
            for item in ids[int(worker) - 1 :: 2]:
                text = f"worker {worker} correction {n}" + (" final" if n == 5 else "")
                correct_caption(library.index, library.encoder, item, text, data_dir)
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(data_dir), str(model_cache), str(w), *pictures],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:
        assert worker.wait(timeout=240) == 0
    library = Library(LibraryConfig(data_dir, "default", None, model_cache))
    exported = tmp_path / "pairs.jsonl"
    export_pairs(library.index, exported)
    captions = {json.loads(line)["image"]: json.loads(line)["caption"]
                for line in exported.read_text().splitlines()}  # fmt: skip
    uris = {item.id: item.uri for item in items}
    for n, picture in enumerate(pictures):
        assert captions[uris[picture]] == f"worker {n % 2 + 1} correction 5 final"


def test_the_cli_corrects_and_train_accepts_the_pairs(run, library_dir, tmp_path):
    data_dir, items = library_dir
    done = run("correct", items[2].id, "a violin with a broken string", "--data-dir", str(data_dir))
    assert "the caption is now “a violin with a broken string”" in done.stdout
    assert (
        "crossmedia corrections --out" in done.stdout and "crossmedia train --pairs" in done.stdout
    )
    exported = run("corrections", "--data-dir", str(data_dir))
    assert f"to {data_dir / PAIRS_FILE}" in exported.stdout
    lines = [json.loads(line) for line in (data_dir / PAIRS_FILE).read_text().splitlines()]
    assert {"image": items[2].uri, "caption": "a violin with a broken string"} in lines

    refused = run("correct", "nope", "a cat", "--data-dir", str(data_dir), check=False)
    assert refused.returncode == 2 and "no item 'nope'" in refused.stderr

    described = run("describe", items[0].uri, "--json", "--data-dir", str(data_dir))
    assert json.loads(described.stdout)["description_by"] == "generated"

    out = tmp_path / "heads"
    args = ("--pairs", str(data_dir / PAIRS_FILE), "--init", "default", "--out", str(out))
    trained = run("train", *args, "--epochs", "1", "--data-dir", str(data_dir))
    assert f"use --encoder trained:{out}" in trained.stdout
    assert (out / "heads.pt").is_file()


def test_the_app_panel_shows_generated_descriptions_and_saves_a_correction(
    tmp_path, stamps_root, model_cache
):
    from ui.described import LABEL, NOT_ALLOWED, DescribedPanel, described_choices
    from ui.security.identity import Identity
    from ui.security.settings import SecuritySettings

    copies = uncaptioned_copies(stamps_root, tmp_path / "pictures" / "fruit bowl")
    library = Library(LibraryConfig(tmp_path / "data", "default", None, model_cache))
    banana, strawberry, _ = add_uncaptioned(library, [p for p, _ in copies], tmp_path / "pictures")
    library.index.add([dataclasses.replace(strawberry, id="c" * 32, caption="A strawberry.")],
                      library.index.vector_of(strawberry.id)[None, :])  # fmt: skip
    picks = [[1, "c" * 32], [2, banana.id], [3, "unknown"]]

    choices = described_choices(library, picks)
    said = "Looks like a banana, in the folder “fruit bowl”."
    assert choices == [(f"[2] {LABEL}: {said}", banana.id)]
    panel = DescribedPanel(library, Identity(SecuritySettings()))
    assert panel.pick(banana.id).startswith("Looks like a banana")
    for stranger in (
        _request("203.0.113.7"),
        _request("127.0.0.1", {"x-forwarded-for": "1.2.3.4"}),
    ):
        *_, note = panel.correct(banana.id, "vandalised", picks, stranger)
        assert note == NOT_ALLOWED  # anonymous and not on this machine: a shared caption stays
    assert library.index.get(banana.id).caption == ""
    signed_in = DescribedPanel(library, Identity(SecuritySettings(auth=(("ann", "pw"),))))
    assert signed_in.correct(banana.id, "x", picks, _request("203.0.113.7"))[-1] == NOT_ALLOWED
    *_, note = panel.correct(banana.id, "a ripe banana on the kitchen table", picks, _request())
    assert note.startswith("Saved: the caption is now “a ripe banana on the kitchen table”")
    assert library.index.get(banana.id).caption == "a ripe banana on the kitchen table"
    assert described_choices(library, picks) == []
    assert "empty" in panel.correct(strawberry.id, " ", picks, _request())[-1]
    by_login = _request("203.0.113.7", user="ann")
    assert signed_in.correct(strawberry.id, "a strawberry", picks, by_login)[-1].startswith("Saved")


def _request(host: str = "127.0.0.1", headers: dict | None = None, user: str | None = None):
    """What the panel reads of a page request: the peer's address, headers, the login."""
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers or {}, username=user)
