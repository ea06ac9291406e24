"""Offline evaluation protocols on a ratings dataset; every number reported with its protocol.

Warm protocol: implicit feedback = rating >= ``positive_threshold``; each user's positives are
sorted by time and the last ``test_fraction`` (at least one) are held out; users with fewer than
two positives are kept for training only; items the user saw in training are excluded from
ranking; all models are fitted on the same training matrix and ranked over all items.
Cold-item protocol: a seeded ``cold_fraction`` of items is removed from training entirely; for
each user who rated one of them positively, the cold items are ranked (only them) by each model.
The hybrid's CF share, then the half-life of its signals' time decay (counted back from each
user's latest training event, as the live loop does), are chosen on a validation split carved
from the training data the same way (never on the test split); the baselines are fitted on the
undecayed training matrix.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from recsys.datasets import Rating, RatingsDataset
from recsys.events import RATING_NEUTRAL
from recsys.hybrid import BlendSettings, HybridRecommender, UserContext
from recsys.matrix import UserItems
from recsys.metrics import ranking_metrics
from recsys.models import make_model
from recsys.signals import DEFAULT_SIGNALS, decay

log = logging.getLogger(__name__)
BASELINES = ("popularity", "itemknn", "als", "bpr")
BLEND_GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)
HALF_LIFE_GRID = (0.0, 7.0, 30.0, 90.0, 365.0)  # days; 0: no decay
Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Protocol:
    positive_threshold: float = 4.0
    test_fraction: float = 0.2
    cold_fraction: float = 0.2
    k: int = 10
    seed: int = 0


@dataclass
class Split:
    """A training matrix over the whole catalogue and, per user row, the held-out items."""

    train: UserItems
    test: list[set[int]]
    candidates: np.ndarray  # boolean mask over items that may be ranked


def _confidence(rating: float) -> float:
    return max(0.0, rating - RATING_NEUTRAL) * DEFAULT_SIGNALS.rating


def _positives_by_user(ratings: Sequence[Rating], threshold: float) -> dict[str, list[Rating]]:
    by_user: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        if r.rating >= threshold:
            by_user[r.user].append(r)
    for rows in by_user.values():
        rows.sort(key=lambda r: (r.timestamp, r.item))
    return by_user


def temporal_split(
    ratings: Sequence[Rating],
    users: list[str],
    items: list[str],
    protocol: Protocol,
    half_life_days: float = 0.0,
) -> Split:
    """The warm protocol's split (see the module docstring); training confidences decay with
    ``half_life_days`` from each user's latest training event (0: no decay)."""
    train, test_items = [], {}
    for user, rows in _positives_by_user(ratings, protocol.positive_threshold).items():
        n_test = max(1, round(len(rows) * protocol.test_fraction)) if len(rows) >= 2 else 0
        cut = len(rows) - n_test
        latest = rows[cut - 1].timestamp if cut > 0 else 0
        train.extend(
            (user, r.item, _confidence(r.rating) * decay(latest - r.timestamp, half_life_days))
            for r in rows[:cut]
        )
        test_items[user] = {r.item for r in rows[cut:]}
    data = UserItems.from_triples(train, users=users, items=items)
    test = [{data.item_index[i] for i in test_items.get(u, ())} for u in data.users]
    return Split(data, test, np.ones(len(items), dtype=bool))


def cold_item_split(
    ratings: Sequence[Rating], users: list[str], items: list[str], protocol: Protocol
) -> Split:
    """The cold-item protocol's split (see the module docstring)."""
    rng = np.random.default_rng(protocol.seed)
    cold = set(
        rng.choice(items, size=round(len(items) * protocol.cold_fraction), replace=False).tolist()
    )
    train, test_items = [], defaultdict(set)
    for user, rows in _positives_by_user(ratings, protocol.positive_threshold).items():
        for r in rows:
            if r.item in cold:
                test_items[user].add(r.item)
            else:
                train.append((user, r.item, _confidence(r.rating)))
    data = UserItems.from_triples(train, users=users, items=items)
    test = [{data.item_index[i] for i in test_items.get(u, ())} for u in data.users]
    candidates = np.array([item in cold for item in items])
    return Split(data, test, candidates)


def _cf_scores(model, split: Split) -> np.ndarray:
    scores = model.scores(split.train.matrix, np.arange(len(split.train.users)))
    return _mask(scores, split)


def _mask(scores: np.ndarray, split: Split) -> np.ndarray:
    scores = scores.astype(np.float64)
    rows, cols = split.train.matrix.nonzero()
    scores[rows, cols] = -np.inf
    scores[:, ~split.candidates] = -np.inf
    return scores


def _hybrid_scores(hybrid: HybridRecommender, split: Split) -> np.ndarray:
    excluded = set(np.flatnonzero(~split.candidates).tolist())
    contexts = [
        UserContext(split.train.matrix[u : u + 1], u, None, excluded)
        for u in range(len(split.train.users))
    ]
    return _mask(hybrid.score(contexts)[0], split)


def _training_ratings(split: Split, ratings: Sequence[Rating]) -> list[Rating]:
    """The ratings of ``split`` minus its held-out test pairs."""
    held_out = {
        (split.train.users[u], split.train.items[i])
        for u, items in enumerate(split.test)
        for i in items
    }
    return [r for r in ratings if (r.user, r.item) not in held_out]


def _validation_ndcg(
    validation: Split, content: np.ndarray, blend: BlendSettings, protocol: Protocol
) -> float:
    cf = make_model("als", protocol.seed)
    hybrid = HybridRecommender(validation.train.items, content, cf, blend).fit(validation.train)
    scores = _hybrid_scores(hybrid, validation)
    return ranking_metrics(scores, validation.test, protocol.k)[f"ndcg@{protocol.k}"]


def choose_blend(
    split: Split, ratings: Sequence[Rating], content: np.ndarray, protocol: Protocol
) -> tuple[BlendSettings, dict[str, float]]:
    """Pick the hybrid's CF share on a temporal validation split of the training data only."""
    train_ratings = _training_ratings(split, ratings)
    validation = temporal_split(train_ratings, split.train.users, split.train.items, protocol)
    results = {
        str(w): _validation_ndcg(validation, content, BlendSettings(max_cf_weight=w), protocol)
        for w in BLEND_GRID
    }
    best = max(BLEND_GRID, key=lambda w: results[str(w)])
    return BlendSettings(max_cf_weight=best), results


def choose_half_life(
    split: Split,
    ratings: Sequence[Rating],
    content: np.ndarray,
    protocol: Protocol,
    blend: BlendSettings,
) -> tuple[float, dict[str, float]]:
    """Pick the half-life of the hybrid's time decay on the same validation split (ties go to
    the earlier grid entry: no decay first)."""
    train_ratings = _training_ratings(split, ratings)
    results = {}
    for days in HALF_LIFE_GRID:
        validation = temporal_split(
            train_ratings, split.train.users, split.train.items, protocol, half_life_days=days
        )
        results[str(days)] = _validation_ndcg(validation, content, blend, protocol)
    best = max(HALF_LIFE_GRID, key=lambda d: results[str(d)])
    return best, results


def evaluate(
    dataset: RatingsDataset, embed: Embed, protocol: Protocol = Protocol(), progress: bool = True
) -> dict:
    """Run the warm and cold-item protocols for every model; returns the JSON-able report."""
    items, users = dataset.items, sorted({r.user for r in dataset.ratings})
    texts = [dataset.item_text.get(i, i) for i in items]
    started = time.perf_counter()
    content = np.asarray(embed(texts), dtype=np.float32)
    report: dict = {
        "dataset": dataset.name,
        "protocol": {
            **asdict(protocol),
            "implicit_feedback": f"rating >= {protocol.positive_threshold}",
            "warm": f"per-user temporal split of positives, last {protocol.test_fraction:.0%} "
            "held out; items seen in training excluded",
            "cold_items": f"{protocol.cold_fraction:.0%} of items removed from training; only "
            "they are ranked, for the users who liked them",
            "content": "text embedding of each item's description",
        },
        "timing_s": {"embed_items": round(time.perf_counter() - started, 2)},
    }
    warm = temporal_split(dataset.ratings, users, items, protocol)
    cold = cold_item_split(dataset.ratings, users, items, protocol)
    blend, validation = choose_blend(warm, dataset.ratings, content, protocol)
    report["blend"] = {"chosen": asdict(blend), "validation_ndcg_by_max_cf_weight": validation}
    half_life, by_half_life = choose_half_life(warm, dataset.ratings, content, protocol, blend)
    report["decay"] = {
        "chosen_half_life_days": half_life,
        "validation_ndcg_by_half_life_days": by_half_life,
    }
    decayed_warm = temporal_split(dataset.ratings, users, items, protocol, half_life)
    for label, split in (("warm", warm), ("cold_items", cold)):
        report[label] = {}
        names = [*BASELINES, "hybrid"]
        for name in tqdm(names, desc=f"{label} models", disable=not progress):
            fit_started = time.perf_counter()
            if name == "hybrid":
                own = decayed_warm if label == "warm" else split  # cold: no per-user time cut
                model = HybridRecommender(
                    items, content, make_model("als", protocol.seed), blend
                ).fit(own.train)
                fitted = time.perf_counter()
                scores = _hybrid_scores(model, own)
            else:
                model = make_model(name, protocol.seed).fit(split.train)
                fitted = time.perf_counter()
                scores = _cf_scores(model, split)
            metrics = ranking_metrics(scores, split.test, protocol.k, int(split.candidates.sum()))
            metrics["fit_s"] = round(fitted - fit_started, 2)
            metrics["score_all_users_s"] = round(time.perf_counter() - fitted, 2)
            report[label][name] = metrics
    report["timing_s"]["total"] = round(time.perf_counter() - started, 2)
    return report
