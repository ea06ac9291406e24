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


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_searches_read_the_count_only_after_a_write(tmp_path, where, monkeypatch):
    """Chroma's count scans the collection (65 ms at 1M vectors): a search must not pay it
    unless the collection changed, above the exact-search limit as below it."""
    from chromadb.api.models.Collection import Collection

    with chroma_served(tmp_path) if where == "server" else _no_server() as server:
        place = {"url": server.url} if server else {"path": tmp_path / "i"}
        writer = MediaIndex(**place, encoder_name="e", dim=32)
        writer.add(_items(12), _vectors(12, 6))
        for limit in (5, 1000):  # HNSW (over the limit), then the exact copy
            reader = MediaIndex(**place, encoder_name="e", dim=32, exact_limit=limit)
            counted = []
            real_count = Collection.count  # every Collection object's, not only this handle's

            def counting(collection, real=real_count, seen=counted):
                seen.append(collection.name)
                return real(collection)

            monkeypatch.setattr(Collection, "count", counting)
            for query in _vectors(20, 7):
                reader.query(query, k=3, kinds=("content",))
            assert len(counted) == 1, limit
            newcomer = _vectors(1, 100 + limit)
            writer.add(_items(1, offset=200 + limit), newcomer)
            assert (
                reader.query(newcomer[0], k=1, kinds=("content",))[0].caption
                == f"doc {200 + limit}"
            )
            for query in _vectors(5, 8):
                reader.query(query, k=3, kinds=("content",))
            assert len(counted) == 2, limit


def test_an_index_made_before_revisions_gets_one_when_opened(tmp_path):
    import chromadb
    from chromadb.config import Settings

    from retrieval.index import VECTOR_KINDS, collection_name

    client = chromadb.PersistentClient(str(tmp_path), Settings(anonymized_telemetry=False))
    old = client.get_or_create_collection(
        collection_name("e", "content"), metadata={"encoder": "e", "dim": 32, "vectors": "content"}
    )
    old.add(ids=["a"], embeddings=_vectors(1, 9))
    del client
    index = MediaIndex(tmp_path, encoder_name="e", dim=32)
    for kind in VECTOR_KINDS:
        stored = index.client.get_collection(collection_name("e", kind)).metadata
        assert stored["dim"] == 32 and len(stored["revision"]) == 32
    with pytest.raises(Exception, match="32-d vectors"):
        MediaIndex(tmp_path, encoder_name="e", dim=16)  # the stored size is kept, not replaced


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
