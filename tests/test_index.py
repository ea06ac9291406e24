import multiprocessing
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import IndexStoreError
from retrieval.index import MediaIndex, collection_name
from retrieval.items import MediaItem
from tests.serving import chroma_served

DIM = 16


def _items(n: int, offset: int = 0, **metadata) -> list[MediaItem]:
    return [
        MediaItem.from_text(f"document {offset + i}", source="t", metadata=metadata)
        for i in range(n)
    ]


def _vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def index(tmp_path) -> MediaIndex:
    return MediaIndex(tmp_path / "index", encoder_name="random-16", dim=DIM)


def test_add_query_get_count_delete(index):
    items, vectors = _items(30, colour="red"), _vectors(30, 0)
    index.add(items, vectors)
    assert index.count() == 30
    hits = index.query(vectors[7], k=3)
    assert hits[0].item_id == items[7].id and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].caption == "document 7" and hits[0].metadata == {"colour": "red"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    stored = index.get(items[3].id)
    assert stored == items[3]
    index.delete([items[7].id, "no-such-id"])
    assert index.count() == 29 and index.get(items[7].id) is None
    assert all(h.item_id != items[7].id for h in index.query(vectors[7], k=5))


def test_caption_vectors_make_items_findable_by_either_vector(index):
    items = _items(5)
    content, captions = _vectors(5, 1), _vectors(5, 2)
    index.add(items, content, {items[2].id: captions[2]})
    by_caption = index.query(captions[2], k=1)[0]
    assert by_caption.item_id == items[2].id and by_caption.matched == "caption"
    content_only = index.query(captions[2], k=5, kinds=("content",))
    assert all(h.matched == "content" for h in content_only)
    assert index.count() == 5  # items, not vectors


def test_each_item_appears_once_and_filters_apply(index):
    items = _items(10, kind="a") + _items(10, offset=10, kind="b")
    vectors = _vectors(20, 3)
    index.add(items, vectors, {i.id: v for i, v in zip(items, vectors, strict=True)})
    hits = index.query(vectors[0], k=10)
    assert len({h.item_id for h in hits}) == len(hits) == 10
    only_b = index.query(vectors[0], k=10, where={"kind": "b"})
    assert len(only_b) == 10 and {h.metadata["kind"] for h in only_b} == {"b"}


def test_re_adding_is_idempotent_and_existing_reports_known_ids(index):
    items, vectors = _items(5), _vectors(5, 4)
    index.add(items, vectors)
    index.add(items, vectors)
    assert index.count() == 5
    assert index.existing([items[0].id, "unknown"]) == {items[0].id}


def test_an_item_whose_write_fails_half_way_is_not_counted_as_stored(index):
    """The content vector is written last: when a later vector of the batch cannot be written
    (here a fused vector of the wrong size, refused by Chroma), the items do not count as
    stored, so a rerun writes them again instead of skipping them."""
    first = _items(2)
    index.add(first, _vectors(2, 3), fused_vectors=_vectors(2, 4))
    broken = _items(3, offset=10)
    wrong_size = np.ones((3, DIM + 1), dtype=np.float32)
    with pytest.raises(IndexStoreError):
        index.add(broken, _vectors(3, 5), fused_vectors=wrong_size)
    assert index.existing(i.id for i in broken) == set() and index.count() == 2
    assert index.add(broken, _vectors(3, 5), fused_vectors=_vectors(3, 6)) == [i.id for i in broken]
    assert index.count() == 5


def test_index_persists_and_refuses_a_dimension_mismatch(tmp_path):
    first = MediaIndex(tmp_path / "idx", encoder_name="enc", dim=DIM)
    first.add(_items(3), _vectors(3, 5))
    assert MediaIndex(tmp_path / "idx", encoder_name="enc", dim=DIM).count() == 3
    with pytest.raises(IndexStoreError, match="use another --data-dir"):
        MediaIndex(tmp_path / "idx", encoder_name="enc", dim=DIM + 1)
    with pytest.raises(IndexStoreError, match="dims"):
        first.query(np.ones(DIM + 2), k=1)


def test_two_encoders_never_share_a_collection():
    assert collection_name("conse-lite2-abc") != collection_name("random-16")
    assert collection_name("clip-openai/clip vit") == "media-clip-openai-clip-vit"
    assert collection_name("x1", "caption") == "media-x1-captions"


def test_reserved_metadata_keys_are_refused(index):
    item = MediaItem.from_text("x", metadata={"modality": "sneaky"})
    with pytest.raises(ValueError, match="reserved"):
        index.add([item], _vectors(1, 6))


def _write_from_another_process(path: str, offset: int) -> None:
    index = MediaIndex(path, encoder_name="random-16", dim=DIM)
    for start in range(0, 200, 50):
        index.add(_items(50, offset + start), _vectors(50, offset + start))


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_from_another_process, args=(path, o)) for o in (0, 10_000)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    index = MediaIndex(path, encoder_name="random-16", dim=DIM)
    assert index.count() == 400
    for offset in (0, 10_000):
        probe = _vectors(50, offset)[0]
        assert index.query(probe, k=1)[0].caption == f"document {offset}"


def _can_mount_tmpfs() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs root to mount a small tmpfs")
def test_a_full_disk_gives_a_clear_error_and_loses_nothing(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)]).returncode:
        pytest.skip("tmpfs mount not permitted here")
    try:
        index = MediaIndex(disk / "idx", encoder_name="random-16", dim=DIM)
        index.add(_items(100), _vectors(100, 7))
        filler = disk / "filler"
        with filler.open("wb") as handle, pytest.raises(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        with pytest.raises(IndexStoreError, match="free disk space"):
            for start in range(100, 2000, 100):
                index.add(_items(100, start), _vectors(100, start))
        filler.unlink()
        del index
        reopened = MediaIndex(disk / "idx", encoder_name="random-16", dim=DIM)
        assert reopened.count() >= 100
        assert reopened.query(_vectors(100, 7)[0], k=1)[0].caption == "document 0"
        reopened.add(_items(100, 100), _vectors(100, 100))  # the retry succeeds
        assert reopened.count() >= 200
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_opening_needs_exactly_one_location(tmp_path):
    with pytest.raises(IndexStoreError, match="either"):
        MediaIndex(encoder_name="x", dim=DIM)
    with pytest.raises(IndexStoreError, match="either"):
        MediaIndex(Path(tmp_path), url="http://127.0.0.1:1", encoder_name="x", dim=DIM)


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server on loopback."""
    with chroma_served(tmp_path) as server:
        yield server.url


def test_client_server_mode(chroma_server):
    index = MediaIndex(url=chroma_server, encoder_name="random-16", dim=DIM)
    items, vectors = _items(20), _vectors(20, 8)
    index.add(items, vectors)
    assert index.count() == 20
    assert index.query(vectors[4], k=1)[0].item_id == items[4].id
    again = MediaIndex(url=chroma_server, encoder_name="random-16", dim=DIM)
    assert again.count() == 20
