"""The LightFM peer's adapter (built by bench/setup_lightfm.sh, which setup.sh --test runs)."""

import numpy as np
import pytest

from recsys import peers
from recsys.datasets import RatingsDataset
from recsys.evaluation import EvalContext
from recsys.protocols import Protocol, make_split
from tests.test_recsys_twotower import kinds_catalogue, kinds_ratings


@pytest.fixture
def context() -> EvalContext:
    items, content = kinds_catalogue()
    tags = {i: [f"genre:{i.split('-')[0]}"] for i in items}
    dataset = RatingsDataset("kinds", kinds_ratings(items), {i: i for i in items}, tags)
    index = {i: n for n, i in enumerate(items)}
    return EvalContext.build(dataset, lambda names: content[[index[n] for n in names]], Protocol())


def test_peer_rows_say_how_to_build_lightfm_when_it_is_absent(context, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_lightfm(name, *args, **kwargs):
        if name == "lightfm":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lightfm)
    split = make_split("warm", context.dataset.ratings, context.users, context.items, Protocol())
    with pytest.raises(peers.PeerUnavailable, match=r"bench/setup_lightfm\.sh"):
        peers.lightfm_scores("lightfm_tags", split, split, context)


def test_lightfm_scores_are_its_predictions_and_rank_cold_items_by_tags(context):
    lightfm = pytest.importorskip(
        "lightfm", reason="LightFM not built: bash bench/setup_lightfm.sh"
    )
    split = make_split(
        "cold_items", context.dataset.ratings, context.users, context.items, Protocol(seed=2)
    )
    items, users = peers._features("lightfm_tags", context)
    model = lightfm.LightFM(no_components=8, loss="warp", random_state=0)
    model.fit(
        (split.train.matrix > 0).astype(np.float32).tocoo(),
        user_features=users,
        item_features=items,
        epochs=5,
    )
    ours = peers._scores(model, items, users)
    theirs = model.predict(
        np.repeat([3], len(context.items)),
        np.arange(len(context.items)),
        item_features=items,
        user_features=users,
    )
    np.testing.assert_allclose(ours[3], theirs, rtol=1e-4, atol=1e-4)

    validation = context.validation("cold_items", split)
    scores, chosen = peers.lightfm_scores("lightfm_tags", split, validation, context)
    assert chosen["epochs"] in peers.LIGHTFM_EPOCHS
    cold = np.flatnonzero(split.candidates)
    hits = []
    for u, truth in enumerate(split.test):
        if truth:
            top = cold[np.argsort(-scores[u, cold])[:3]]
            kind = context.users[u].split("-")[0]
            hits.append(np.mean([context.items[i].startswith(kind) for i in top]))
    assert np.mean(hits) > 0.6  # a third by chance: its genre tags carry it
