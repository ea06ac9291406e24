import numpy as np
import pytest

from retrieval.exact import ExactVectors
from retrieval.index import MediaIndex
from retrieval.items import MediaItem
from tests.serving import chroma_served


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_top_upsert_and_delete():
    exact = ExactVectors(dim=2)
    exact.upsert(["a", "b", "c"], _unit([[1, 0], [0, 1], [1, 1]]))
    assert [i for i, _ in exact.top(np.array([1, 0.1]), 3)] == ["a", "c", "b"]
    exact.upsert(["b"], _unit([[1, 0.05]]))  # overwrite moves b next to a
    assert [i for i, _ in exact.top(np.array([1, 0.0]), 2)] == ["a", "b"]
    exact.delete(["a", "unknown"])
    assert len(exact) == 2 and exact.top(np.array([1, 0.0]), 5)[0][0] == "b"
    assert ExactVectors(dim=2).top(np.array([1, 0.0]), 3) == []


def _items(n: int, offset: int = 0) -> list[MediaItem]:
    return [MediaItem.from_text(f"doc {offset + i}") for i in range(n)]


def _vectors(n: int, seed: int, dim: int = 32) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_and_hnsw_paths_agree_and_exact_finds_true_neighbours(tmp_path):
    items, vectors = _items(500), _vectors(500, 0)
    exact_index = MediaIndex(tmp_path / "i", encoder_name="e", dim=32)
    exact_index.add(items, vectors)
    hnsw_index = MediaIndex(tmp_path / "i", encoder_name="e", dim=32, exact_limit=0)
    assert exact_index.exact_vectors("content") is not None
    assert hnsw_index.exact_vectors("content") is None
    queries = _vectors(20, 1)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    for query, expected in zip(queries, truth, strict=True):
        hits = exact_index.query(query, k=10)
        assert [h.item_id for h in hits] == [items[i].id for i in expected]
        assert hits[0].caption == items[expected[0]].caption
        assert hnsw_index.query(query, k=1)[0].item_id == items[expected[0]].id


def test_exact_copy_follows_writes_from_another_handle(tmp_path):
    reader = MediaIndex(tmp_path / "i", encoder_name="e", dim=32)
    writer = MediaIndex(tmp_path / "i", encoder_name="e", dim=32)
    writer.add(_items(10), _vectors(10, 2))
    assert reader.query(_vectors(10, 2)[3], k=1)[0].caption == "doc 3"
    newcomer = _vectors(1, 3)
    writer.add(_items(1, offset=100), newcomer)  # the reader's copy is now stale
    assert reader.query(newcomer[0], k=1)[0].caption == "doc 100"
    writer.delete([_items(1, offset=100)[0].id])
    reader.delete([])  # no-op
    assert reader.query(newcomer[0], k=1)[0].caption != "doc 100"


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_exact_copy_follows_an_overwrite_that_keeps_the_count(tmp_path, where):
    """A caption corrected by another process (or replica) changes a vector, not the count."""
    with chroma_served(tmp_path) if where == "server" else _no_server() as server:
        place = {"url": server.url} if server else {"path": tmp_path / "i"}
        reader = MediaIndex(**place, encoder_name="e", dim=32)
        writer = MediaIndex(**place, encoder_name="e", dim=32)
        items, vectors = _items(10), _vectors(10, 4)
        writer.add(items, vectors)
        assert reader.query(vectors[3], k=1)[0].caption == "doc 3"
        moved = _vectors(1, 5)
        writer.add([items[3]], moved)  # same id, new vector: the count stays 10
        best = reader.query(moved[0], k=1)[0]
        assert best.caption == "doc 3" and best.score == pytest.approx(1.0, abs=1e-4)
        assert reader.query(vectors[3], k=1)[0].score < 0.99
        writer.add([items[3]], moved)  # the same vector again: nothing to reload


def _no_server():
    from contextlib import nullcontext

    return nullcontext(None)


def test_half_precision_shortlist_keeps_results_exact():
    vectors = _vectors(3000, 5, dim=64)
    ids = [str(i) for i in range(3000)]
    fast, plain = (
        ExactVectors(64, half_precision_from=1000),
        ExactVectors(64, half_precision_from=10**9),
    )
    fast.replace_all(ids, vectors)
    plain.replace_all(ids, vectors)
    for query in _vectors(30, 6, dim=64):
        expected = plain.top(query, 10)
        got = fast.top(query, 10)
        assert [i for i, _ in got] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-6)
    fast.upsert(["new"], _vectors(1, 7, dim=64))  # the half-precision copy follows writes
    assert fast.top(_vectors(1, 7, dim=64)[0], 1)[0][0] == "new"
