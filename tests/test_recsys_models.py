"""CF models and the hybrid on data where the right answer is known by construction."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recsys.errors import OrientationError, RecsysError, UnknownItemError
from recsys.hybrid import BlendSettings, HybridRecommender
from recsys.matrix import UserItems
from recsys.models import CFModel, make_model

CLUSTER = {"a": [f"a{i}" for i in range(8)], "b": [f"b{i}" for i in range(8)]}


def two_taste_clusters(seed: int = 0) -> UserItems:
    """Users a-0..a-14 like 5 of the 8 'a' items, users b-* 5 of the 'b' items."""
    rng = np.random.default_rng(seed)
    triples = []
    for taste, items in CLUSTER.items():
        for n in range(15):
            for item in rng.choice(items, size=5, replace=False):
                triples.append((f"{taste}-{n}", str(item), 1.0))
    return UserItems.from_triples(triples, items=CLUSTER["a"] + CLUSTER["b"] + ["a-new", "b-new"])


def content_vectors(items: list[str], seed: int = 1) -> np.ndarray:
    """Two directions, one per taste, plus a little noise."""
    rng = np.random.default_rng(seed)
    base = {"a": np.array([1.0, 0, 0, 0]), "b": np.array([0, 1.0, 0, 0])}
    return np.stack([base[i[0]] + 0.1 * rng.standard_normal(4) for i in items]).astype(np.float32)


def test_transposed_matrix_is_refused():
    data = two_taste_clusters()
    with pytest.raises(OrientationError, match="items x users"):
        UserItems(data.matrix.T.tocsr(), data.users, data.items)
    with pytest.raises(OrientationError, match="not users x items"):
        UserItems(csr_matrix((3, 3)), data.users, data.items)


@pytest.mark.parametrize("name", ["itemknn", "als", "bpr"])
def test_each_model_recommends_within_the_users_taste(name):
    data = two_taste_clusters()
    model = make_model(name, seed=0).fit(data)
    for user in ("a-0", "b-3"):
        position = data.user_index[user]
        scores = model.scores(data.row(user), np.array([position]))[0]
        scores[data.row(user).indices] = -np.inf
        scores[[data.item_index["a-new"], data.item_index["b-new"]]] = -np.inf
        top2 = [data.items[i] for i in np.argsort(-scores)[:2]]
        assert all(item[0] == user[0] for item in top2), (name, user, top2)


def test_popularity_and_save_load_round_trip(tmp_path):
    data = two_taste_clusters()
    for name in ("popularity", "itemknn", "als", "bpr"):
        model = make_model(name).fit(data)
        model.save(tmp_path / name)
        loaded = CFModel.load(tmp_path / name)
        positions = np.array([0, 20])
        rows = data.matrix[positions]
        np.testing.assert_allclose(
            loaded.scores(rows, positions), model.scores(rows, positions), rtol=1e-5
        )
        assert loaded.items == data.items
    with pytest.raises(RecsysError, match="no saved model"):
        CFModel.load(tmp_path / "missing")


def test_als_folds_in_a_new_user_without_refit():
    data = two_taste_clusters()
    als = make_model("als").fit(data)
    newcomer = UserItems.from_triples(
        [("x", "b0", 1.0), ("x", "b1", 1.0)], users=["x"], items=data.items
    )
    scores = als.scores(newcomer.matrix, np.array([-1]))[0]
    scores[[data.item_index["b0"], data.item_index["b1"]]] = -np.inf
    assert data.items[int(np.argmax(scores))].startswith("b")


def test_hybrid_ranks_a_cold_item_by_content_and_explains():
    data = two_taste_clusters()
    hybrid = HybridRecommender(data.items, content_vectors(data.items), make_model("als")).fit(data)
    liked = data.row("a-1").indices
    context = hybrid.context_for([(data.items[i], 1.0) for i in liked], user="a-1")
    recs = hybrid.recommend(context, k=4)
    assert all(r.item[0] == "a" for r in recs)
    assert "a-new" in [r.item for r in recs]  # nobody has interacted with it: content found it
    for rec in recs:
        assert rec.cf_share + rec.content_share == pytest.approx(1.0, abs=1e-3)
        assert rec.similar_to in {data.items[i] for i in liked}
        assert rec.similar_to in rec.because
    cold = next(r for r in recs if r.item == "a-new")
    assert cold.content_share > 0.99  # no CF signal for a cold item

    # ALS alone cannot tell the cold items apart
    als_scores = hybrid.cf.scores(context.row, np.array([-1]))[0]
    assert abs(als_scores[data.item_index["a-new"]] - als_scores[data.item_index["b-new"]]) < 1e-3


def test_new_users_get_session_then_popularity():
    data = two_taste_clusters()
    hybrid = HybridRecommender(data.items, content_vectors(data.items), make_model("als")).fit(data)
    by_session = hybrid.recommend(hybrid.context_for([], session=np.array([0, 1.0, 0, 0])), k=3)
    assert all(r.item[0] == "b" and r.from_session for r in by_session)
    assert by_session[0].because == "close to what you asked for"
    popular = hybrid.recommend(hybrid.context_for([]), k=3)
    counts = np.asarray((data.matrix > 0).sum(axis=0)).ravel()
    assert data.item_index[popular[0].item] in np.flatnonzero(counts == counts.max())
    assert popular[0].because == f"popular: {int(counts.max())} people liked it"


def test_cf_share_grows_with_history():
    data = two_taste_clusters()
    hybrid = HybridRecommender(
        data.items,
        content_vectors(data.items),
        make_model("als"),
        BlendSettings(max_cf_weight=0.8, history_for_full_cf=10),
    )
    assert hybrid.cf_weight(0) == 0.0
    assert 0 < hybrid.cf_weight(3) < hybrid.cf_weight(10) == pytest.approx(0.8)


def test_diversity_spreads_recommendations():
    items = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    content = np.array(
        [[1, 0.02 * i] if i < 6 else [0.3, 1.0] for i in range(12)], dtype=np.float32
    )
    triples = [(f"u{n}", items[n % 6], 1.0) for n in range(12)] + [("me", "a0", 1.0)]
    data = UserItems.from_triples(triples, items=items)
    plain = HybridRecommender(items, content, make_model("popularity")).fit(data)
    diverse = HybridRecommender(
        items, content, make_model("popularity"), BlendSettings(diversity=0.7)
    ).fit(data)
    context = plain.context_for([("a0", 1.0)], user="me")
    assert sum(r.item.startswith("b") for r in plain.recommend(context, k=4)) == 0
    assert sum(r.item.startswith("b") for r in diverse.recommend(context, k=4)) >= 1


def test_unknown_items_and_bad_content_are_refused():
    data = two_taste_clusters()
    hybrid = HybridRecommender(data.items, content_vectors(data.items), make_model("als"))
    with pytest.raises(UnknownItemError, match="zzz"):
        hybrid.context_for([("zzz", 1.0)])
    with pytest.raises(RecsysError, match="content vectors"):
        HybridRecommender(data.items, np.zeros((3, 4)), make_model("als"))


def test_a_fitted_user_with_an_empty_row_gets_popularity_not_a_flat_cf_score():
    """A user the model was fitted with but who has no positive events (e.g. only views) is
    ranked by popularity, not by CF scores that are the same for every item."""
    data = two_taste_clusters()
    users = [*data.users, "only-viewed"]
    padded = UserItems(
        csr_matrix(
            (
                data.matrix.data,
                data.matrix.indices,
                np.append(data.matrix.indptr, data.matrix.indptr[-1]),
            ),
            shape=(len(users), len(data.items)),
        ),
        users,
        data.items,
    )
    items = padded.items
    hybrid = HybridRecommender(items, content_vectors(items), make_model("als")).fit(padded)
    context = hybrid.context_for([], user="only-viewed")
    assert context.position == len(users) - 1 and context.row.nnz == 0
    recs = hybrid.recommend(context, k=3)
    assert all(r.because.startswith("popular:") for r in recs), [r.because for r in recs]
    likers = {item: hybrid.liked_by(hybrid.item_index[item]) for item in items}
    chosen = [likers[r.item] for r in recs]
    assert min(chosen) >= max(n for item, n in likers.items() if item not in {r.item for r in recs})
