"""The two-tower model on data whose right answers are known by construction, with real
training (torch, a few seconds each)."""

import numpy as np
import pytest

from recsys.datasets import Rating, RatingsDataset, tag_matrix
from recsys.evaluation import evaluate
from recsys.matrix import UserItems
from recsys.models import CFModel, make_model
from recsys.protocols import Protocol, cold_item_split, cold_user_split
from recsys.twotower import item_feature_matrix

KINDS = ("space", "romance", "western")


def kinds_catalogue(per_kind: int = 30, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Items of three kinds; each kind's content vectors point one way, with noise."""
    rng = np.random.default_rng(seed)
    items = [f"{k}-{i}" for k in KINDS for i in range(per_kind)]
    directions = np.eye(8)[: len(KINDS)]
    content = np.stack(
        [directions[KINDS.index(i.split("-")[0])] + 0.3 * rng.standard_normal(8) for i in items]
    )
    return items, content.astype(np.float32)


def kinds_ratings(items: list[str], users_per_kind: int = 25, seed: int = 0) -> list[Rating]:
    """Each user loves one kind: 10 of its items, rated 5, over time."""
    rng = np.random.default_rng(seed)
    ratings = []
    for kind in KINDS:
        mine = [i for i in items if i.startswith(kind)]
        for n in range(users_per_kind):
            for t, item in enumerate(rng.choice(mine, size=10, replace=False)):
                ratings.append(Rating(f"{kind}-fan{n}", str(item), 5.0, 1000.0 * t + n))
    return ratings


def top_share_of_own_kind(scores: np.ndarray, split, users: list[str], items: list[str]) -> float:
    """The share of each tested user's top-5 ranked (candidate, unseen) items of their kind."""
    shares = []
    for u, truth in enumerate(split.test):
        if not truth:
            continue
        row = scores[u].copy()
        row[~split.candidates] = -np.inf
        row[split.train.matrix[u].indices] = -np.inf
        top = np.argsort(-row)[:5]
        kind = users[u].split("-")[0]
        shares.append(np.mean([items[i].startswith(kind) for i in top]))
    return float(np.mean(shares))


def test_content_decides_cold_items():
    """Items never interacted with are ranked through the learned content map."""
    items, content = kinds_catalogue()
    ratings = kinds_ratings(items)
    users = sorted({r.user for r in ratings})
    split = cold_item_split(ratings, users, items, Protocol(seed=2))
    with_content = make_model("twotower", 0, item_features=content, epochs=40).fit(split.train)
    share = top_share_of_own_kind(
        with_content.scores(split.train.matrix, np.arange(len(users))), split, users, items
    )
    blind = make_model("twotower", 0, epochs=40).fit(split.train)  # ids only: cold = unknown
    blind_share = top_share_of_own_kind(
        blind.scores(split.train.matrix, np.arange(len(users))), split, users, items
    )
    assert share >= 0.8, share  # a third by chance
    assert blind_share < 0.6, blind_share


def test_cold_users_are_scored_from_their_features():
    """A user never trained on, with no history, gets their group's kind from features alone."""
    items, content = kinds_catalogue()
    ratings = kinds_ratings(items)
    users = sorted({r.user for r in ratings})
    tags = {u: [f"club:{u.split('-')[0]}", "gender:?"] for u in users}
    user_matrix, _ = tag_matrix(users, tags)
    features = dict(zip(users, user_matrix, strict=True))
    split = cold_user_split(ratings, users, items, Protocol(seed=0))
    cold = [users[u] for u in split.cold_users]
    assert cold and all(split.train.matrix[users.index(u)].nnz == 0 for u in cold)

    def share(model) -> float:
        scores = model.scores(split.train.matrix, np.arange(len(users)))
        return top_share_of_own_kind(scores, split, users, items)

    knows = make_model("twotower", 0, item_features=content, user_features=features, epochs=40)
    unaware = make_model("twotower", 0, item_features=content, epochs=40)
    assert share(knows.fit(split.train)) >= 0.9
    assert share(unaware.fit(split.train)) < 0.6  # without features: one list for everyone


def test_a_new_history_counts_without_a_refit_and_saving_keeps_scores(tmp_path):
    items, content = kinds_catalogue()
    ratings = kinds_ratings(items)
    data = UserItems.from_triples(
        ((r.user, r.item, 2.0, r.timestamp) for r in ratings), items=items
    )
    assert data.times is not None and data.times.nnz == data.matrix.nnz
    model = make_model("twotower", 0, item_features=content, epochs=30).fit(data)
    newcomer = UserItems.from_triples(
        [("new", "western-0", 2.0), ("new", "western-1", 2.0)], items=items
    ).matrix
    scores = model.scores(newcomer, np.array([-1]))[0]
    scores[newcomer.indices] = -np.inf
    top = [items[i] for i in np.argsort(-scores)[:5]]
    assert all(i.startswith("western") for i in top), top

    model.save(tmp_path / "tt")
    loaded = CFModel.load(tmp_path / "tt")
    positions = np.array([0, 30, -1])
    rows = data.matrix[[0, 30, 31]]
    np.testing.assert_allclose(
        loaded.scores(rows, positions), model.scores(rows, positions), rtol=1e-5, atol=1e-5
    )


def test_item_features_keep_the_leading_content_directions():
    items, content = kinds_catalogue()
    tags = np.eye(3, dtype=np.float32)[[KINDS.index(i.split("-")[0]) for i in items]]
    features = item_feature_matrix(content, tags, components=2)
    assert features.shape == (len(items), 2 + 3)
    # two principal components separate the three kinds: nearest centroid is always right
    centroids = np.stack([features[[i.startswith(k) for i in items], :2].mean(0) for k in KINDS])
    nearest = np.argmin(((features[:, None, :2] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == tags.argmax(1)).mean() > 0.95


def test_wrong_feature_rows_are_refused():
    items, content = kinds_catalogue()
    data = UserItems.from_triples([("u", items[0], 1.0)], items=items)
    with pytest.raises(Exception, match="item feature rows"):
        make_model("twotower", 0, item_features=content[:5], epochs=1).fit(data)


def test_evaluate_runs_the_new_model_and_trivial_rows_on_every_protocol():
    items, content = kinds_catalogue()
    texts = {i: i for i in items}
    tags = {i: [f"genre:{i.split('-')[0]}"] for i in items}
    dataset = RatingsDataset("kinds", kinds_ratings(items), texts, tags)
    index = {i: n for n, i in enumerate(items)}

    def embed(names: list[str]) -> np.ndarray:
        return content[[index[n] for n in names]]

    report = evaluate(
        dataset,
        embed,
        Protocol(seed=1),
        progress=False,
        protocols=("warm", "cold_items", "cold_items_time", "cold_users"),
        models=("popularity", "twotower", "genre_count", "test_popularity_cheat"),
    )
    assert "genre_count" not in report["warm"] and "genre_count" in report["cold_items"]
    cold = report["cold_items"]
    assert cold["twotower"]["ndcg@10"] > 2 * cold["popularity"]["ndcg@10"]
    assert cold["test_popularity_cheat"]["ndcg@10"] >= cold["popularity"]["ndcg@10"]
    chosen = report["chosen_on_validation"]["twotower"]["warm"]
    assert chosen["epochs"] in (25, 50, 75, 100, 125, 150) and chosen["components"] in (8, 32)


def test_sampled_softmax_for_large_catalogues_learns_the_same_tastes():
    """Beyond ``full_softmax_items`` the loss samples negatives; tastes are still learned."""
    items, content = kinds_catalogue()
    ratings = kinds_ratings(items)
    users = sorted({r.user for r in ratings})
    split = cold_item_split(ratings, users, items, Protocol(seed=2))
    model = make_model(
        "twotower",
        0,
        item_features=content,
        epochs=40,
        full_softmax_items=10,
        sampled_negatives=20,
    ).fit(split.train)
    scores = model.scores(split.train.matrix, np.arange(len(users)))
    assert top_share_of_own_kind(scores, split, users, items) >= 0.8
