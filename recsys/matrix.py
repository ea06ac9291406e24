"""UserItems: the users x items confidence matrix every CF model is fitted on, with its id maps.

implicit (>= 0.5) expects users x items and silently gives wrong answers on the transpose, so
the orientation is checked against the id lists wherever a matrix enters a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix

from recsys.errors import OrientationError, UnknownItemError, UnknownUserError


def check_user_items(matrix: csr_matrix, n_users: int, n_items: int) -> csr_matrix:
    """Return ``matrix`` as float32 CSR if it is (n_users, n_items); refuse the transpose."""
    if matrix.shape == (n_users, n_items):
        return csr_matrix(matrix, dtype=np.float32)
    if matrix.shape == (n_items, n_users):
        raise OrientationError(
            f"got an items x users matrix {matrix.shape}; CF models take users x items "
            f"({n_users} x {n_items}): pass matrix.T.tocsr()"
        )
    raise OrientationError(
        f"matrix shape {matrix.shape} is not users x items ({n_users} x {n_items})"
    )


@dataclass
class UserItems:
    """A users x items matrix with the string ids of its rows and columns."""

    matrix: csr_matrix
    users: list[str]
    items: list[str]
    # when each (user, item) last happened, where known: seconds after the earliest event, plus
    # one (so that no time is a sparse zero); only order and spacing matter to the models
    times: csr_matrix | None = None
    user_index: dict[str, int] = field(init=False, repr=False)
    item_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.matrix = check_user_items(self.matrix, len(self.users), len(self.items))
        self.user_index = {u: i for i, u in enumerate(self.users)}
        self.item_index = {it: i for i, it in enumerate(self.items)}

    @classmethod
    def from_triples(
        cls,
        triples: Iterable[tuple[str, str, float] | tuple[str, str, float, float]],
        users: Sequence[str] | None = None,
        items: Sequence[str] | None = None,
    ) -> UserItems:
        """Sum (user, item, confidence[, timestamp]) tuples into a matrix; ids are mapped once,
        in order of first sight unless ``users``/``items`` fix the order (and may include unseen
        ids). With timestamps, ``times`` holds each pair's latest (see ``times``)."""
        user_ids = list(users) if users is not None else []
        item_ids = list(items) if items is not None else []
        user_pos = {u: i for i, u in enumerate(user_ids)}
        item_pos = {it: i for i, it in enumerate(item_ids)}
        rows, cols, values, stamps = [], [], [], []
        for user, item, value, *when in triples:
            if user not in user_pos:
                if users is not None:
                    raise UnknownUserError(f"user {user!r} is not in the given user list")
                user_pos[user] = len(user_ids)
                user_ids.append(user)
            if item not in item_pos:
                if items is not None:
                    raise UnknownItemError(f"item {item!r} is not in the given item list")
                item_pos[item] = len(item_ids)
                item_ids.append(item)
            rows.append(user_pos[user])
            cols.append(item_pos[item])
            values.append(value)
            if when:
                stamps.append(when[0])
        matrix = csr_matrix(
            (np.asarray(values, dtype=np.float32), (rows, cols)),
            shape=(len(user_ids), len(item_ids)),
        )
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        times = None
        if stamps:
            if len(stamps) != len(values):
                raise ValueError("give a timestamp with every triple or with none")
            relative = np.asarray(stamps, dtype=np.float64) - min(stamps) + 1.0
            times = _latest(rows, cols, relative, matrix.shape).multiply(matrix > 0).tocsr()
        return cls(matrix, user_ids, item_ids, times)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def row(self, user: str) -> csr_matrix:
        """The user's row (1 x items); a user not in the matrix raises UnknownUserError."""
        if user not in self.user_index:
            raise UnknownUserError(f"unknown user {user!r}")
        position = self.user_index[user]
        return self.matrix[position : position + 1]


def _latest(rows: list[int], cols: list[int], stamps: np.ndarray, shape) -> csr_matrix:
    """The latest timestamp per cell (csr sums duplicates, so keep only each cell's maximum)."""
    order = np.lexsort((np.asarray(stamps), np.asarray(cols), np.asarray(rows)))
    r, c, t = np.asarray(rows)[order], np.asarray(cols)[order], np.asarray(stamps)[order]
    last = np.ones(len(r), dtype=bool)
    last[:-1] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return csr_matrix((t[last].astype(np.float64), (r[last], c[last])), shape=shape)
