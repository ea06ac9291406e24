"""The comparison's outside rows: LightFM as the peer, and trivial baselines that expose leaks.

LightFM (Kula 2015) is the reference hybrid; it is not a dependency of crossmedia and does not
install with current setuptools (its setup.py assigns to ``__builtins__``):
``bench/setup_lightfm.sh`` builds it from the PyPI sdist with that one line mended. Where it
is absent its rows are skipped with that message. Two variants, WARP loss, 64 components,
epochs chosen on the protocol's validation split: ``lightfm_tags`` (item id + genre/period
tags, user id + tags) and ``lightfm_content`` (item id + the content vector's first 32
principal components).

Trivial baselines: ``genre_count`` ranks items by how many genre tags they carry (on
MovieLens-100k popular films carry more genres, so a cold-item score near it means the model
learned popularity, not taste); ``test_popularity_cheat`` ranks by the number of test likes of
each item: it reads the answers and is an upper reference, never a result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_matrix, hstack, identity

from recsys.errors import RecsysError
from recsys.metrics import ranking_metrics
from recsys.protocols import Split, mask_scores

if TYPE_CHECKING:
    from recsys.evaluation import EvalContext

LIGHTFM_EPOCHS = (5, 10, 20, 30, 50)
LIGHTFM_COMPONENTS = 64


class PeerUnavailable(RecsysError):
    """A peer model's package is not installed; the message says how to build it."""


def _lightfm():
    try:
        from lightfm import LightFM
    except ImportError:
        raise PeerUnavailable(
            "LightFM is not installed; build it with bench/setup_lightfm.sh (its PyPI sdist "
            "needs a one-line fix to build with current setuptools)"
        ) from None
    return LightFM


def _features(variant: str, ctx: EvalContext) -> tuple[csr_matrix, csr_matrix]:
    from recsys.twotower import item_feature_matrix

    n_items, n_users = len(ctx.items), len(ctx.users)
    if variant == "lightfm_tags":
        extra = csr_matrix(ctx.item_tags)
    elif variant == "lightfm_content":
        extra = csr_matrix(item_feature_matrix(ctx.content, None, 32))
    else:
        raise ValueError(f"unknown LightFM variant {variant!r}")
    items = hstack([identity(n_items, format="csr"), extra]).tocsr().astype(np.float32)
    user_rows = np.array([ctx.user_tags.get(u, ()) for u in ctx.users], dtype=np.float32)
    users = identity(n_users, format="csr")
    if user_rows.ndim == 2 and user_rows.shape[1]:
        users = hstack([users, csr_matrix(user_rows)])
    return items, users.tocsr().astype(np.float32)


def _scores(model, items: csr_matrix, users: csr_matrix) -> np.ndarray:
    """Every user x item score, exactly LightFM's ``predict`` (dot product plus both biases)."""
    item_bias, item_vectors = model.get_item_representations(items)
    user_bias, user_vectors = model.get_user_representations(users)
    return user_vectors @ item_vectors.T + user_bias[:, None] + item_bias[None, :]


def _fit(variant: str, split: Split, ctx: EvalContext, epochs: int, on_epoch=None):
    light_fm = _lightfm()
    items, users = _features(variant, ctx)
    model = light_fm(no_components=LIGHTFM_COMPONENTS, loss="warp", random_state=ctx.protocol.seed)
    interactions = (split.train.matrix > 0).astype(np.float32).tocoo()
    for epoch in range(1, epochs + 1):
        model.fit_partial(interactions, user_features=users, item_features=items, num_threads=2)
        if on_epoch is not None:
            on_epoch(epoch, _scores(model, items, users))
    return _scores(model, items, users)


def lightfm_scores(
    variant: str, split: Split, validation: Split, ctx: EvalContext
) -> tuple[np.ndarray, dict]:
    """Scores of LightFM ``variant`` fitted on ``split`` with the epochs that scored best on
    ``validation``; and that choice."""
    results: dict[str, float] = {}

    def record(epoch: int, scores: np.ndarray) -> None:
        if epoch in LIGHTFM_EPOCHS:
            masked = mask_scores(scores, validation)
            metrics = ranking_metrics(masked, validation.test, ctx.protocol.k)
            results[str(epoch)] = metrics[f"ndcg@{ctx.protocol.k}"]

    _fit(variant, validation, ctx, max(LIGHTFM_EPOCHS), record)
    epochs = int(max(results, key=results.get))
    return _fit(variant, split, ctx, epochs), {"epochs": epochs, "validation_ndcg": results}


def genre_count(ctx: EvalContext) -> np.ndarray:
    """Per item, the number of its ``genre:`` tags."""
    tags = ctx.dataset.item_tags
    return np.array(
        [sum(t.startswith("genre:") for t in tags.get(i, ())) for i in ctx.items], dtype=float
    )


def test_popularity(split: Split) -> np.ndarray:
    """Per item, how many test sets hold it (reads the answers: an upper reference only)."""
    counts = np.zeros(len(split.train.items))
    for found in split.test:
        counts[list(found)] += 1
    return counts
