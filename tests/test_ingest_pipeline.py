"""The pipelined ingest (reading ahead in a thread, the image tower in ONNX Runtime, captions
encoded once) stores what the serial PyTorch ingest stores, and reports the same."""

from __future__ import annotations

import shutil
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.discovery import discover
from retrieval.images import load_image
from retrieval.index import VECTOR_KINDS, MediaIndex
from retrieval.ingest import Ingestor, _Claims
from retrieval.ocr import TextReader
from retrieval.prefetch import ordered_map

KEYWORDS = ("frog", "guitar", "banana", "saturn", "duck", "tractor", "sheep")


def test_ordered_map_with_nothing_ahead_runs_in_the_callers_thread():
    threads = set()

    def square(n: int) -> int:
        threads.add(threading.current_thread().name)
        return n * n

    assert list(ordered_map(square, range(5), workers=2, ahead=0)) == [0, 1, 4, 9, 16]
    assert threads == {threading.current_thread().name}
    with pytest.raises(ValueError, match="0 or more"):
        list(ordered_map(square, [1], workers=1, ahead=-1))


def test_ordered_map_stops_drawing_inputs_when_the_consumer_stops():
    drawn = []

    def endless():
        n = 0
        while True:
            drawn.append(n)
            yield n
            n += 1

    stream = ordered_map(lambda n: n, endless(), workers=2, ahead=3)
    assert next(stream) == 0
    stream.close()  # waits for the running ones
    count = len(drawn)
    time.sleep(0.2)
    assert len(drawn) == count <= 3  # never more than `ahead` drawn


def test_ordered_map_keeps_order_on_several_threads_a_bounded_number_ahead():
    threads: set[str] = set()
    started: list[int] = []

    def slow_square(n: int) -> int:
        started.append(n)
        threads.add(threading.current_thread().name)
        time.sleep(0.03 if n % 2 else 0.0)  # odd inputs finish after the next even one
        return n * n

    out = []
    for value in ordered_map(slow_square, range(8), workers=2, ahead=3, name="reader"):
        out.append(value)
        assert len(started) <= len(out) + 3  # never more than `ahead` in flight
    assert out == [n * n for n in range(8)]
    assert len(threads) == 2 and all(t.startswith("reader") for t in threads)


def test_ordered_map_raises_where_the_failing_result_would_come_and_stops_early():
    def work(n: int) -> int:
        if n == 3:
            raise ValueError("bad input 3")
        return n

    got = []
    with pytest.raises(ValueError, match="bad input 3"):
        for value in ordered_map(work, range(100), workers=2, ahead=2):
            got.append(value)
    assert got == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 1"):
        list(ordered_map(work, range(3), workers=0, ahead=2))


def test_an_id_belongs_to_the_earliest_chunk_that_holds_it():
    claims = _Claims()
    assert claims.claim("same bytes", 5)  # a later chunk, staged first, sees it first
    assert claims.claim("same bytes", 2)  # the earlier chunk takes it over (written first)
    assert not claims.claim("same bytes", 2)  # a second copy in that chunk is a duplicate
    assert not claims.claim("same bytes", 7)
    assert claims.claim("other", 7)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory, stamps_root):
    """Real stamps (PNG and SVG, with captions), two without a caption (in a named folder, so
    they are described), a duplicate and a corrupt captioned file among the good ones."""
    root = tmp_path_factory.mktemp("mixed")
    (root / "farm animals").mkdir()
    stamps = captioned_stamps(stamps_root)
    chosen = [next(p for p, c in stamps if k in c.lower()) for k in KEYWORDS]
    chosen += [p for p, _ in stamps if p.suffix == ".svg"][:2]
    for n, path in enumerate(chosen):
        if n in (3, 6):  # no caption
            shutil.copy(path, root / "farm animals" / f"{n:02d}-{path.name}")
            continue
        shutil.copy(path, root / f"{n:02d}-{path.name}")
        shutil.copy(path.with_suffix(".txt"), root / f"{n:02d}-{path.stem}.txt")
    (root / "04b-broken.png").write_bytes(chosen[0].read_bytes()[:300])
    (root / "04b-broken.txt").write_text("a broken picture")
    shutil.copy(chosen[1], root / "05b-same-guitar.png")
    return root


@contextmanager
def reference_tower(encoder):
    """The image tower as it ran before: PyTorch, batches of 32."""
    tower = encoder.conse.image_tower
    runner, size = tower.onnx, tower.batch_size
    tower.onnx, tower.batch_size = None, 32
    try:
        yield
    finally:
        tower.onnx, tower.batch_size = runner, size


def ingest_into(work, encoder, folder, ocr_threads, **options):
    index = MediaIndex(work, encoder_name=encoder.name, dim=encoder.dim)
    reader = TextReader(threads=ocr_threads)
    ingestor = Ingestor(index, encoder, batch_size=3, read_text=reader, **options)
    return index, ingestor.ingest(discover(folder), progress=False)


def stored(index: MediaIndex) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for kind in VECTOR_KINDS:
        ids, vectors = index.vectors(kind)
        out[kind] = dict(zip(ids, vectors, strict=True))
    return out


def test_pipelined_ingest_stores_what_the_serial_one_does(tmp_path, default_encoder, mixed_folder):
    tower = default_encoder.conse.image_tower
    assert tower.onnx is not None, "the default encoder should run its image tower in ONNX"
    with reference_tower(default_encoder):
        serial_index, serial = ingest_into(
            tmp_path / "serial", default_encoder, mixed_folder, 2, prefetch=0, cache_captions=False
        )
    fast_index, fast = ingest_into(
        tmp_path / "fast", default_encoder, mixed_folder, 1, prefetch=2, readers=2
    )

    assert serial.added == fast.added == 9
    assert serial.added_ids == fast.added_ids  # same ids in the same order
    assert serial.duplicates == fast.duplicates == 1
    assert serial.refused == fast.refused
    assert [where.rsplit("/", 1)[-1] for where, _ in fast.refused] == ["04b-broken.png"]
    assert "corrupt or truncated" in fast.refused[0][1]

    before, after = stored(serial_index), stored(fast_index)
    assert before["content"].keys() == after["content"].keys() == set(fast.added_ids)
    for kind in VECTOR_KINDS:
        assert before[kind].keys() == after[kind].keys(), kind
        for key, vector in before[kind].items():
            np.testing.assert_allclose(after[kind][key], vector, atol=1e-4, err_msg=kind)
    items = fast_index.get_many(fast.added_ids)
    serial_items = serial_index.get_many(serial.added_ids)
    for item_id, item in items.items():
        assert item.metadata == serial_items[item_id].metadata  # descriptions, OCR text
    assert sum(1 for i in items.values() if i.metadata.get("description_by")) == 2


def test_onnx_tower_matches_pytorch(default_encoder, stamps_root):
    tower = default_encoder.conse.image_tower
    pictures = [load_image(p) for p, _ in captioned_stamps(stamps_root)[:5]]
    fast = tower.forward(pictures)
    with reference_tower(default_encoder):
        reference = tower.forward(pictures)
    np.testing.assert_allclose(fast.features, reference.features, atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(fast.logits, reference.logits, atol=1e-3, rtol=1e-3)
    assert (fast.logits.argmax(1) == reference.logits.argmax(1)).all()


def test_a_cached_onnx_graph_runs_without_the_exporter(default_encoder, model_cache, tmp_path):
    """``onnx`` is needed to export the graph, not to run it: with the graph in the cache the
    tower runs in ONNX Runtime where ``onnx`` is not installed; a new cache falls back to
    PyTorch and says what to install."""
    import subprocess
    import sys
    from pathlib import Path

    tower = default_encoder.conse.image_tower
    assert tower.onnx is not None  # exported into model_cache
    script = """
import logging, sys
sys.modules["onnx"] = None  # as if it were not installed: importing it raises ImportError
logging.basicConfig(level=logging.WARNING)
from pathlib import Path
from retrieval.encoders.image_tower import EfficientNetLiteTower
tower = EfficientNetLiteTower(sys.argv[2])
print("onnx" if tower.use_onnx(Path(sys.argv[1])) else "pytorch")
"""
    root = Path(__file__).resolve().parents[1]
    for cache, expected in ((model_cache, "onnx"), (tmp_path / "empty-cache", "pytorch")):
        done = subprocess.run([sys.executable, "-c", script, str(cache), tower.variant], cwd=root,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [expected], done.stderr
        assert ("pip install onnx" in done.stderr) == (expected == "pytorch")


def test_captions_encoded_once_give_each_item_its_captions_vector(tmp_path, monkeypatch):
    from retrieval.discovery import SourceRecord
    from retrieval.encoders.random_encoder import RandomEncoder

    monkeypatch.setattr("retrieval.ingest.CAPTION_CACHE_LIMIT", 2)  # the cache is cleared too
    encoder = RandomEncoder(16)
    captions = ["a red crayon", "a red crayon", "a frog", "a duck", "a frog", "a red crayon"]
    records = [SourceRecord("text", None, text=f"item {n}", caption=c)
               for n, c in enumerate(captions)]  # fmt: skip
    index = MediaIndex(tmp_path, encoder_name=encoder.name, dim=encoder.dim)
    report = Ingestor(index, encoder, batch_size=4).ingest(records, progress=False)
    assert report.added == len(captions)
    stored_captions = dict(zip(*index.vectors("caption"), strict=True))
    items = index.get_many(report.added_ids)
    for item_id, vector in stored_captions.items():
        expected = encoder.encode_texts([items[item_id].caption])[0]
        np.testing.assert_allclose(vector, expected, atol=1e-6)
    assert len(stored_captions) == len(captions)
