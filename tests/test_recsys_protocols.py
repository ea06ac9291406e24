"""The evaluation protocols' splits, and the disjointness check that guards them."""

import numpy as np
import pytest

from recsys.datasets import Rating, load_movielens_100k
from recsys.errors import LeakError
from recsys.protocols import (
    PROTOCOLS,
    Protocol,
    Split,
    check_disjoint,
    cold_user_split,
    make_split,
    time_cut_cold_item_split,
)


def test_every_protocol_on_movielens_is_disjoint_and_nonempty():
    data = load_movielens_100k()
    users = sorted({r.user for r in data.ratings})
    for name in PROTOCOLS:
        split = make_split(name, data.ratings, users, data.items, Protocol(seed=4))
        check_disjoint(split)  # make_split checks too; say it here
        tested = sum(bool(t) for t in split.test)
        assert tested > 50, (name, tested)  # the time cut tests 71 users
        candidates = set(np.flatnonzero(split.candidates))
        assert all(truth <= candidates for truth in split.test), name


def test_a_leaky_split_is_refused():
    data = load_movielens_100k()
    users = sorted({r.user for r in data.ratings})
    split = make_split("warm", data.ratings, users, data.items, Protocol())
    u = next(n for n, t in enumerate(split.test) if t)
    item = next(iter(split.test[u]))
    leaky = split.train.matrix.tolil()
    leaky[u, item] = 1.0
    split.train.matrix = leaky.tocsr()
    with pytest.raises(LeakError, match="test pairs are in training"):
        check_disjoint(split)
    cold = make_split("cold_items", data.ratings, users, data.items, Protocol())
    matrix = cold.train.matrix.tolil()
    matrix[0, cold.cold_items[0]] = 1.0
    with pytest.raises(LeakError, match="cold items have training data"):
        check_disjoint(
            Split(
                cold.train.__class__(matrix.tocsr(), cold.train.users, cold.train.items),
                [set()] * len(users),
                cold.candidates,
                cold.cold_items,
            )
        )


def test_time_cut_makes_items_first_rated_later_cold():
    ratings = [
        Rating("u1", "old", 5.0, 1.0),
        Rating("u1", "mid", 5.0, 2.0),
        Rating("u2", "old", 5.0, 3.0),
        Rating("u2", "new", 5.0, 9.0),
        Rating("u1", "new", 5.0, 10.0),
        Rating("u3", "new", 5.0, 11.0),
        Rating("u1", "old", 2.0, 12.0),
    ]
    split = time_cut_cold_item_split(
        ratings, ["u1", "u2", "u3"], ["old", "mid", "new"], Protocol(time_cut_quantile=0.4)
    )
    assert [split.train.items[i] for i in np.flatnonzero(split.candidates)] == ["new"]
    assert split.train.matrix[:, 2].nnz == 0
    tested = {split.train.users[u] for u, t in enumerate(split.test) if t}
    assert tested == {"u1", "u2"}  # u3 has no training history before the cut


def test_cold_users_have_empty_training_rows_and_all_their_likes_as_test():
    ratings = [Rating(f"u{u}", f"i{i}", 5.0, float(i)) for u in range(10) for i in range(u % 4 + 2)]
    users, items = [f"u{u}" for u in range(10)], [f"i{i}" for i in range(6)]
    split = cold_user_split(ratings, users, items, Protocol(cold_user_fraction=0.3))
    assert len(split.cold_users) == 3
    for u in split.cold_users:
        assert split.train.matrix[u].nnz == 0
        assert len(split.test[u]) == int(users[u][1:]) % 4 + 2
