"""Collaborative-filtering models behind one interface, fitted on a users x items matrix.

``popularity`` and ``itemknn`` are the cheap baselines, ``als`` and ``bpr`` come from implicit.
Every model scores all items for a batch of users at once (dense, users x items), which is what
the hybrid blend and the evaluator need; filtering seen items is the caller's job.
"""

from __future__ import annotations

import json
import logging
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy.sparse import csr_matrix

from recsys.errors import RecsysError
from recsys.matrix import UserItems, check_user_items

log = logging.getLogger(__name__)
PARALLEL_FOLD_IN_FROM = 64  # users folded in at once from which implicit's threads pay off


class CFModel(ABC):
    """A fitted CF model knows ``users`` and ``items`` (the ids of the matrix it was fitted on)."""

    name: ClassVar[str]
    can_fold_in: ClassVar[bool] = False

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.users: list[str] = []
        self.items: list[str] = []

    def fit(self, data: UserItems) -> CFModel:
        """Fit on a users x items confidence matrix."""
        self.users, self.items = list(data.users), list(data.items)
        self._fit(check_user_items(data.matrix, len(self.users), len(self.items)))
        return self

    @abstractmethod
    def _fit(self, matrix: csr_matrix) -> None: ...

    @abstractmethod
    def scores(self, user_rows: csr_matrix, positions: np.ndarray) -> np.ndarray:
        """Scores (len(positions), n_items) for users at ``positions`` of the fitted matrix;
        a position of -1 is a user the model has not seen (scored from ``user_rows`` if the
        model can fold users in, else 0)."""

    @property
    def fitted(self) -> bool:
        return bool(self.items)

    def user_position(self, user: str) -> int:
        """The user's row in the fitted matrix, or -1 if the model has not seen them."""
        if getattr(self, "_user_positions", (None, None))[0] is not self.users:
            self._user_positions = (self.users, {u: i for i, u in enumerate(self.users)})
        return self._user_positions[1].get(user, -1)

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the model into a directory (``meta.json`` plus the model's arrays)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_arrays(directory / "model.npz")
        meta = {
            "model": self.name,
            "seed": self.seed,
            "params": getattr(self, "params", {}),
            "users": self.users,
            "items": self.items,
        }
        (directory / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: str | Path) -> CFModel:
        """Read a model written by ``save`` (any subclass: the name is in ``meta.json``)."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "meta.json").read_text())
            model = make_model(meta["model"], seed=meta["seed"], **meta.get("params", {}))
        except (OSError, KeyError, json.JSONDecodeError, RecsysError) as exc:
            raise RecsysError(f"{directory} holds no saved model ({exc})") from exc
        model.users, model.items = meta["users"], meta["items"]
        model._load_arrays(directory / "model.npz")
        return model

    @abstractmethod
    def _save_arrays(self, path: Path) -> None: ...

    @abstractmethod
    def _load_arrays(self, path: Path) -> None: ...


class PopularityModel(CFModel):
    """Scores every item by how many users interacted with it positively."""

    name = "popularity"

    def _fit(self, matrix: csr_matrix) -> None:
        self.popularity = np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()

    def scores(self, user_rows: csr_matrix, positions: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity, (len(positions), 1))

    def _save_arrays(self, path: Path) -> None:
        np.savez(path, popularity=self.popularity)

    def _load_arrays(self, path: Path) -> None:
        self.popularity = np.load(path)["popularity"]


class ItemKNNModel(CFModel):
    """Item-item cosine neighbours (implicit's CosineRecommender); users are their rows."""

    name = "itemknn"
    can_fold_in = True

    def __init__(self, seed: int = 0, neighbours: int = 100):
        super().__init__(seed)
        self.neighbours = neighbours

    def _fit(self, matrix: csr_matrix) -> None:
        from implicit.nearest_neighbours import CosineRecommender
        from implicit.utils import ParameterWarning

        model = CosineRecommender(K=self.neighbours)
        with warnings.catch_warnings():  # implicit normalises into COO internally and warns
            warnings.simplefilter("ignore", category=ParameterWarning)
            model.fit(matrix, show_progress=False)
        self.similarity = model.similarity.tocsr()

    def scores(self, user_rows: csr_matrix, positions: np.ndarray) -> np.ndarray:
        return np.asarray((user_rows @ self.similarity).todense(), dtype=np.float32)

    def _save_arrays(self, path: Path) -> None:
        s = self.similarity
        np.savez(path, data=s.data, indices=s.indices, indptr=s.indptr, shape=np.array(s.shape))

    def _load_arrays(self, path: Path) -> None:
        z = np.load(path)
        self.similarity = csr_matrix(
            (z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])
        )


class _FactorModel(CFModel):
    """Shared scoring for matrix-factorisation models: user factors . item factors."""

    def _factor_scores(self, user_factors: np.ndarray) -> np.ndarray:
        return user_factors @ self.item_factors.T

    def scores(self, user_rows: csr_matrix, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions)
        factors = np.zeros((len(positions), self.user_factors.shape[1]), dtype=np.float32)
        known = positions >= 0
        factors[known] = self.user_factors[positions[known]]
        if self.can_fold_in and (~known).any():
            factors[~known] = self.fold_in(user_rows[np.flatnonzero(~known)])
        return self._factor_scores(factors)

    def fold_in(self, user_rows: csr_matrix) -> np.ndarray:
        """Factors for users not in the fit, from their rows (no refit)."""
        raise NotImplementedError

    def aligned_to(self, items: list[str]) -> _FactorModel:
        """This model over another list of items (a catalogue): known items keep their
        factors, items the model never saw get zero factors (no CF signal, as a fit with an
        empty column gives them), items not in ``items`` are dropped."""
        if items == self.items:
            return self
        aligned = make_model(self.name, self.seed, **getattr(self, "params", {}))
        assert isinstance(aligned, _FactorModel)
        aligned.users, aligned.items = self.users, list(items)
        aligned.user_factors = self.user_factors
        aligned.item_factors = np.zeros(
            (len(items), self.item_factors.shape[1]), dtype=self.item_factors.dtype
        )
        known = {item: row for row, item in enumerate(self.items)}
        pairs = [(new, known[item]) for new, item in enumerate(items) if item in known]
        if pairs:
            new_rows, old_rows = map(list, zip(*pairs, strict=True))
            aligned.item_factors[new_rows] = self.item_factors[old_rows]
        return aligned

    def _save_arrays(self, path: Path) -> None:
        np.savez(path, user_factors=self.user_factors, item_factors=self.item_factors)

    def _load_arrays(self, path: Path) -> None:
        z = np.load(path)
        self.user_factors, self.item_factors = z["user_factors"], z["item_factors"]


def gpu_available() -> bool:
    """Whether implicit was built with CUDA and sees a GPU (``implicit.gpu.HAS_CUDA``)."""
    import implicit.gpu

    return bool(implicit.gpu.HAS_CUDA)


class ALSModel(_FactorModel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) from implicit; folds new users in.

    ``gpu``: fit with implicit's CUDA solver (True), on the CPU (False, the default: the
    evaluations' numbers come from it), or on the GPU where one is usable (None). A GPU fit is
    copied back to the CPU at once, so fold-in and scoring never need the GPU."""

    name = "als"
    can_fold_in = True

    def __init__(
        self,
        seed: int = 0,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 2.0,
        gpu: bool | None = False,
    ):
        super().__init__(seed)
        self.params = dict(
            factors=factors, regularization=regularization, iterations=iterations, alpha=alpha
        )
        self.gpu = gpu_available() if gpu is None else gpu

    def _new_model(self):
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(**self.params, random_state=self.seed, num_threads=0)

    def _fit(self, matrix: csr_matrix) -> None:
        if self.gpu:
            if not gpu_available():
                raise RecsysError(
                    "ALS on the GPU needs implicit built with CUDA (implicit.gpu.HAS_CUDA is "
                    "False here): install implicit from conda-forge with CUDA, or fit on the CPU"
                )
            from implicit.gpu.als import AlternatingLeastSquares as GpuALS

            on_gpu = GpuALS(**self.params, random_state=self.seed)
            on_gpu.fit(matrix, show_progress=False)
            self.model = on_gpu.to_cpu()
        else:
            self.model = self._new_model()
            self.model.fit(matrix, show_progress=False)
        self.user_factors, self.item_factors = self.model.user_factors, self.model.item_factors

    def fold_in(self, user_rows: csr_matrix) -> np.ndarray:
        model = getattr(self, "model", None)
        if model is None:  # loaded from disk: rebuild the solver around the saved factors
            model = self._new_model()
            model.user_factors, model.item_factors = self.user_factors, self.item_factors
            self.model = model
        rows = check_user_items(user_rows, user_rows.shape[0], len(self.items))
        # implicit's OpenMP pool costs ~20 ms to wake on a busy machine, where one user's solve
        # takes 0.2 ms (bench/recsys_scale.py): a few users are solved on this thread
        model.num_threads = 0 if rows.shape[0] >= PARALLEL_FOLD_IN_FROM else 1
        return model.recalculate_user(np.arange(rows.shape[0]), rows)


class BPRModel(_FactorModel):
    """Bayesian Personalised Ranking (Rendle et al. 2009) from implicit."""

    name = "bpr"

    def __init__(
        self,
        seed: int = 0,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
    ):
        super().__init__(seed)
        self.params = dict(
            factors=factors,
            learning_rate=learning_rate,
            regularization=regularization,
            iterations=iterations,
        )

    def _fit(self, matrix: csr_matrix) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(**self.params, random_state=self.seed, num_threads=0)
        model.fit(matrix, show_progress=False)
        self.user_factors, self.item_factors = model.user_factors, model.item_factors


MODELS: dict[str, type[CFModel]] = {
    m.name: m for m in (PopularityModel, ItemKNNModel, ALSModel, BPRModel)
}


def register_model(model: type[CFModel]) -> type[CFModel]:
    """Make a model class known to ``make_model`` and ``CFModel.load`` by its name."""
    MODELS[model.name] = model
    return model


def make_model(name: str, seed: int = 0, **options) -> CFModel:
    """A new, unfitted model by name: popularity, itemknn, als, bpr or twotower (``options``
    go to its constructor, e.g. the two-tower model's ``item_features``)."""
    if name == "twotower":
        import recsys.twotower  # noqa: F401  (registers itself; imports torch when used)
    try:
        model = MODELS[name]
    except KeyError:
        raise RecsysError(f"unknown model {name!r}; use one of {sorted(MODELS)}") from None
    return model(seed=seed, **options)
