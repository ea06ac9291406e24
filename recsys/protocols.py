"""Evaluation protocols on a ratings dataset: how training and test data are split.

Implicit feedback = rating >= ``positive_threshold``; a split holds a training matrix over the
whole catalogue and every user, and per user row the items they should find.

- warm: each user's positives sorted by time, the last ``test_fraction`` (at least one) held
  out; users with fewer than two positives train only; all items ranked, seen ones excluded.
- cold_items: a seeded ``cold_fraction`` of items is removed from training entirely; for each
  user who liked one of them, only the cold items are ranked (their likes over the whole
  timeline, so this is not on the warm protocol's scale).
- cold_items_time: a time cut at the ``time_cut_quantile`` of all ratings; items first rated
  after it are cold; training is every positive before the cut on the other items; the test is
  the positives after the cut on cold items, for users with training history; only cold items
  are ranked (what a live catalogue meets: new releases).
- cold_users: a seeded ``cold_user_fraction`` of users is removed from training; their
  positives are the test and every item is ranked (the model knows only their features).

``check_disjoint`` verifies in code that no test pair, cold item or cold user reaches training.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.datasets import Rating
from recsys.errors import LeakError
from recsys.matrix import UserItems
from recsys.signals import DEFAULT_SIGNALS, decay

PROTOCOLS = ("warm", "cold_items", "cold_items_time", "cold_users")


@dataclass(frozen=True)
class Protocol:
    positive_threshold: float = 4.0
    test_fraction: float = 0.2
    cold_fraction: float = 0.2
    time_cut_quantile: float = 0.5
    cold_user_fraction: float = 0.2
    k: int = 10
    seed: int = 0


@dataclass
class Split:
    """A training matrix over the whole catalogue and, per user row, the held-out items."""

    train: UserItems
    test: list[set[int]]
    candidates: np.ndarray  # boolean mask over items that may be ranked
    cold_items: np.ndarray | None = None  # item positions that must have no training data
    cold_users: np.ndarray | None = None  # user positions that must have no training data


confidence = DEFAULT_SIGNALS.rating_confidence  # a 4 weighs 1, a 5 weighs 2


def positives_by_user(ratings: Sequence[Rating], threshold: float) -> dict[str, list[Rating]]:
    """Each user's ratings at or above ``threshold``, oldest first."""
    by_user: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        if r.rating >= threshold:
            by_user[r.user].append(r)
    for rows in by_user.values():
        rows.sort(key=lambda r: (r.timestamp, r.item))
    return by_user


def _split(
    train: Iterable[tuple[str, str, float, float]],
    test_items: dict[str, set[str]],
    users: list[str],
    items: list[str],
    candidates: np.ndarray | None = None,
    cold_items: set[str] | None = None,
    cold_users: set[str] | None = None,
) -> Split:
    data = UserItems.from_triples(train, users=users, items=items)
    test = [{data.item_index[i] for i in test_items.get(u, ())} for u in data.users]
    split = Split(
        data,
        test,
        np.ones(len(items), dtype=bool) if candidates is None else candidates,
        None if cold_items is None else np.array([data.item_index[i] for i in cold_items], int),
        None if cold_users is None else np.array([data.user_index[u] for u in cold_users], int),
    )
    check_disjoint(split)
    return split


def temporal_split(
    ratings: Sequence[Rating],
    users: list[str],
    items: list[str],
    protocol: Protocol,
    half_life_days: float = 0.0,
) -> Split:
    """The warm protocol's split; training confidences decay with ``half_life_days`` from each
    user's latest training event (0: no decay)."""
    train, test_items = [], {}
    for user, rows in positives_by_user(ratings, protocol.positive_threshold).items():
        n_test = max(1, round(len(rows) * protocol.test_fraction)) if len(rows) >= 2 else 0
        cut = len(rows) - n_test
        latest = rows[cut - 1].timestamp if cut > 0 else 0
        train.extend(
            (
                user,
                r.item,
                confidence(r.rating) * decay(latest - r.timestamp, half_life_days),
                r.timestamp,
            )
            for r in rows[:cut]
        )
        test_items[user] = {r.item for r in rows[cut:]}
    return _split(train, test_items, users, items)


def cold_item_split(
    ratings: Sequence[Rating], users: list[str], items: list[str], protocol: Protocol
) -> Split:
    """The cold_items protocol's split: a seeded share of items never trained on."""
    rng = np.random.default_rng(protocol.seed)
    cold = set(
        rng.choice(items, size=round(len(items) * protocol.cold_fraction), replace=False).tolist()
    )
    train, test_items = [], defaultdict(set)
    for user, rows in positives_by_user(ratings, protocol.positive_threshold).items():
        for r in rows:
            if r.item in cold:
                test_items[user].add(r.item)
            else:
                train.append((user, r.item, confidence(r.rating), r.timestamp))
    candidates = np.array([item in cold for item in items])
    return _split(train, test_items, users, items, candidates, cold_items=cold)


def time_cut_cold_item_split(
    ratings: Sequence[Rating], users: list[str], items: list[str], protocol: Protocol
) -> Split:
    """The cold_items_time protocol's split: items first rated after the time cut are cold."""
    cut = float(np.quantile([r.timestamp for r in ratings], protocol.time_cut_quantile))
    first_seen: dict[str, float] = {}
    for r in ratings:
        first_seen[r.item] = min(first_seen.get(r.item, np.inf), r.timestamp)
    cold = {item for item in items if first_seen.get(item, np.inf) > cut}
    train, later = [], defaultdict(set)
    for user, rows in positives_by_user(ratings, protocol.positive_threshold).items():
        for r in rows:
            if r.timestamp <= cut and r.item not in cold:
                train.append((user, r.item, confidence(r.rating), r.timestamp))
            elif r.timestamp > cut and r.item in cold:
                later[user].add(r.item)
    trained_users = {u for u, _, _, _ in train}
    test_items = {u: found for u, found in later.items() if u in trained_users}
    candidates = np.array([item in cold for item in items])
    return _split(train, test_items, users, items, candidates, cold_items=cold)


def cold_user_split(
    ratings: Sequence[Rating], users: list[str], items: list[str], protocol: Protocol
) -> Split:
    """The cold_users protocol's split: a seeded share of users never trained on."""
    rng = np.random.default_rng(protocol.seed + 1_000)
    positives = positives_by_user(ratings, protocol.positive_threshold)
    size = round(len(positives) * protocol.cold_user_fraction)
    cold = set(rng.choice(sorted(positives), size=size, replace=False).tolist())
    train, test_items = [], {}
    for user, rows in positives.items():
        if user in cold:
            test_items[user] = {r.item for r in rows}
        else:
            train.extend((user, r.item, confidence(r.rating), r.timestamp) for r in rows)
    return _split(train, test_items, users, items, cold_users=cold)


def make_split(
    name: str, ratings: Sequence[Rating], users: list[str], items: list[str], protocol: Protocol
) -> Split:
    """The split of protocol ``name`` (one of ``PROTOCOLS``)."""
    makers = {
        "warm": temporal_split,
        "cold_items": cold_item_split,
        "cold_items_time": time_cut_cold_item_split,
        "cold_users": cold_user_split,
    }
    if name not in makers:
        raise ValueError(f"unknown protocol {name!r}; use one of {PROTOCOLS}")
    return makers[name](ratings, users, items, protocol)


def mask_scores(scores: np.ndarray, split: Split) -> np.ndarray:
    """``scores`` (users x items) as float64 with what may not be ranked at -inf: each user's
    training items and every item outside the split's candidates."""
    scores = scores.astype(np.float64)
    rows, cols = split.train.matrix.nonzero()
    scores[rows, cols] = -np.inf
    scores[:, ~split.candidates] = -np.inf
    return scores


def check_disjoint(split: Split) -> None:
    """Raise LeakError if a test pair, a cold item or a cold user has training data (as
    LightFM's ``check_intersections`` does for its train and test matrices)."""
    matrix = split.train.matrix
    pairs = np.array(
        [(u, i) for u, found in enumerate(split.test) for i in found], dtype=int
    ).reshape(-1, 2)
    if pairs.size:  # scipy answers an empty fancy index with a sparse matrix
        trained = pairs[np.asarray(matrix[pairs[:, 0], pairs[:, 1]]).ravel() != 0]
    else:
        trained = pairs
    if len(trained):
        leaked = [(split.train.users[u], split.train.items[i]) for u, i in trained[:3]]
        raise LeakError(f"{len(trained)} test pairs are in training, e.g. {leaked}")
    if split.cold_items is not None and split.cold_items.size:
        trained = np.flatnonzero(matrix[:, split.cold_items].getnnz(axis=0))
        if trained.size:
            names = [split.train.items[split.cold_items[i]] for i in trained[:3]]
            raise LeakError(f"{trained.size} cold items have training data, e.g. {names}")
    if split.cold_users is not None and split.cold_users.size:
        trained = np.flatnonzero(matrix[split.cold_users].getnnz(axis=1))
        if trained.size:
            names = [split.train.users[split.cold_users[u]] for u in trained[:3]]
            raise LeakError(f"{trained.size} cold users have training data, e.g. {names}")
