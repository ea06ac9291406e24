"""A two-tower recommender that learns from item content inside the model.

Item tower: an item's vector is its id embedding plus a learned map of its content features
(the leading principal components of its shared-space vector, metadata tags); its bias
likewise. Beside the towers' dot product, the score adds a learned weight times the plain
likeness of the item's content vector to the user's content profile. During training each
item's id part is dropped with probability ``id_dropout`` (DropoutNet, Volkovs et al. 2017), so
the content map learns to stand in for the id: an item nobody has interacted with yet (a cold
item) is scored by its content alone, through the learned map and the likeness. Items without
interactions are never negatives in training: they are unknown, not disliked.

User tower: the user's history (their row of confidences, L2-normalised, pushed through the
items' input embeddings) plus their features (age, occupation, ...), through a tanh layer. A
user is a function of what they did, not an id, so a new user, or a like a moment ago, counts at
once without a refit (the live fold-in); a user with no history is scored from their features.

Training: the multinomial likelihood of a user's items under a softmax over the catalogue
(Mult-DAE, Liang et al. 2018). With event times, each step cuts each user's timeline at a random
point, feeds the earlier items (a share dropped) and asks for the later ones (the earlier ones
weigh ``past_weight``): the model learns to predict what comes next, which is what a
recommender is asked. A share of users (``history_dropout``) get no history at all, so features
alone learn to predict (cold users). Full softmax up to ``full_softmax_items`` items, sampled
softmax (uniform negatives shared by the batch) beyond.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import csr_matrix
from torch import nn
from tqdm import tqdm

from recsys.errors import RecsysError
from recsys.matrix import UserItems
from recsys.models import CFModel, register_model

log = logging.getLogger(__name__)


def item_feature_matrix(
    content: np.ndarray, tags: np.ndarray | None = None, components: int = 16
) -> np.ndarray:
    """An item's content features: its content vector's first ``components`` principal
    components over the catalogue, each scaled to unit variance (a few directions generalise;
    hundreds of raw dimensions let the map memorise), then its metadata tags if any."""
    content = np.asarray(content, dtype=np.float64)
    centred = content - content.mean(axis=0)
    k = min(components, *centred.shape)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes[:k].T
    parts = [projected / np.maximum(projected.std(axis=0), 1e-12)]
    if tags is not None and tags.shape[1]:
        parts.append(np.asarray(tags, dtype=np.float64))
    return np.hstack(parts).astype(np.float32)


def _learnable(features: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Features as given (``item_feature_matrix`` whitens the content part; tags stay 0/1: a
    rare tag scaled to unit variance would reach items through a huge value), except that a
    feature constant over the ``known`` items (those with interactions) cannot be learned and
    is zeroed for every item (else a tag only new items carry would reach them through weights
    nothing trained)."""
    reference = features[known] if known.any() else features
    return features * (reference.std(axis=0) > 1e-6)


class TwoTowerModel(CFModel):
    """Content-aware factorisation trained with a softmax ranking loss (module docstring)."""

    name = "twotower"
    can_fold_in = True

    def __init__(
        self,
        seed: int = 0,
        item_features: np.ndarray | None = None,
        item_content: np.ndarray | None = None,
        user_features: dict[str, np.ndarray] | None = None,
        dim: int = 64,
        epochs: int = 150,
        learning_rate: float = 3e-3,
        weight_decay: float = 0.1,
        input_dropout: float = 0.2,
        id_dropout: float = 0.5,
        history_dropout: float = 0.1,
        past_weight: float = 0.3,
        min_cut: float = 0.5,
        batch_size: int = 128,
        full_softmax_items: int = 20_000,
        sampled_negatives: int = 4096,
        progress: bool = False,
    ):
        super().__init__(seed)
        self.item_features = None if item_features is None else np.asarray(item_features)
        self.item_content = None if item_content is None else np.asarray(item_content)
        self.user_feature_table = user_features or {}
        self.params = dict(
            dim=dim,
            epochs=epochs,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            input_dropout=input_dropout,
            id_dropout=id_dropout,
            history_dropout=history_dropout,
            past_weight=past_weight,
            min_cut=min_cut,
            batch_size=batch_size,
            full_softmax_items=full_softmax_items,
            sampled_negatives=sampled_negatives,
        )
        self.progress = progress
        self.history: list[float] = []  # training loss per epoch

    # -- features -----------------------------------------------------------------------------

    def _item_matrix(self, n_items: int) -> np.ndarray:
        if self.item_features is None:
            return np.zeros((n_items, 0), dtype=np.float32)
        if self.item_features.shape[0] != n_items:
            raise RecsysError(
                f"{self.item_features.shape[0]} item feature rows for {n_items} items"
            )
        return self.item_features.astype(np.float32)

    def _content_matrix(self, n_items: int):
        if self.item_content.shape[0] != n_items:
            raise RecsysError(f"{self.item_content.shape[0]} item content rows for {n_items} items")
        return torch.from_numpy(self.item_content.astype(np.float32))

    def _user_matrix(self, users: list[str]) -> np.ndarray:
        table = self.user_feature_table
        width = len(next(iter(table.values()))) if table else 0
        out = np.zeros((len(users), width), dtype=np.float32)
        for row, user in enumerate(users):
            if user in table:
                out[row] = table[user]
        return out

    # -- fitting --------------------------------------------------------------------------------

    def fit(
        self,
        data: UserItems,
        checkpoints: Sequence[int] = (),
        on_checkpoint: Callable[[int, TwoTowerModel], None] | None = None,
    ) -> TwoTowerModel:
        """Fit on a users x items matrix; with ``data.times`` it learns to predict each user's
        later items from their earlier ones. After each epoch in ``checkpoints`` the model is
        usable and ``on_checkpoint(epoch, self)`` is called (to choose epochs on validation)."""
        self._times = data.times
        self._checkpoints = (set(checkpoints), on_checkpoint)
        try:
            super().fit(data)
        finally:
            self._times, self._checkpoints = None, (set(), None)
        return self

    def _fit(self, matrix: csr_matrix) -> None:
        p = self.params
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        n_items = matrix.shape[1]
        confidences = matrix.astype(np.float32)
        # items nobody interacted with never use (or train) an id part: content alone
        self._known_items = np.asarray((confidences > 0).sum(axis=0)).ravel() > 0
        items = _learnable(self._item_matrix(n_items), self._known_items)
        users = self._user_matrix(self.users)
        self.net = _towers(n_items, items.shape[1], users.shape[1], p["dim"])
        item_x = torch.from_numpy(items.astype(np.float32))
        unit = unit_rows(item_x if self.item_content is None else self._content_matrix(n_items))
        self._unit_content = unit.numpy()
        user_x = torch.from_numpy(users)
        optimiser = torch.optim.AdamW(
            self.net.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"]
        )
        times = None
        if self._times is not None:
            times = csr_matrix(self._times.multiply(confidences > 0), dtype=np.float64)
        active = np.flatnonzero(np.diff(confidences.indptr) > 0)
        known = torch.from_numpy(self._known_items.astype(np.float32))
        known_bool = torch.from_numpy(self._known_items)
        full = n_items <= p["full_softmax_items"]
        self.history = []
        checkpoints, on_checkpoint = self._checkpoints
        for epoch in tqdm(
            range(1, p["epochs"] + 1), desc="two-tower epochs", disable=not self.progress
        ):
            rng.shuffle(active)
            total = 0.0
            self.net.train()
            for start in range(0, len(active), p["batch_size"]):
                batch = active[start : start + p["batch_size"]]
                target = torch.from_numpy(confidences[batch].toarray())
                keep = torch.rand(target.shape) >= p["input_dropout"]
                history = target * keep
                if times is not None:  # earlier items in, later items (mostly) out
                    past = self._past_mask(times[batch], rng)
                    history = history * past
                    target = target * (~past + p["past_weight"] * past)
                no_history = torch.rand(len(batch)) < p["history_dropout"]
                history[no_history] = 0.0
                id_keep = (torch.rand(n_items) >= p["id_dropout"]).float() * known
                columns = None if full else self._sampled_columns(target, rng)
                logits = self.net(history, user_x[batch], item_x, unit, id_keep, columns)
                # an item nobody has interacted with is unknown, not a negative
                unseen = ~known_bool if columns is None else ~known_bool[columns]
                logits = logits.masked_fill(unseen, float("-inf"))
                if columns is not None:
                    target = target[:, columns]
                log_p = torch.log_softmax(logits, dim=1)
                loss = -(torch.where(target > 0, log_p, 0.0) * target).sum(1).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(batch)
            self.history.append(total / max(1, len(active)))
            if on_checkpoint is not None and epoch in checkpoints:
                self.net.eval()
                self._cache_item_vectors(item_x)
                on_checkpoint(epoch, self)
        self.net.eval()
        self._cache_item_vectors(item_x)

    def _past_mask(self, times: csr_matrix, rng: np.random.Generator):
        """Per user, the items up to a random point of their timeline (a share of it drawn
        from [min_cut, 1)); users with fewer than two timed items keep everything."""
        out = np.zeros(times.shape, dtype=bool)
        for row in range(times.shape[0]):
            start, end = times.indptr[row], times.indptr[row + 1]
            columns, when = times.indices[start:end], times.data[start:end]
            if when.size < 2:
                out[row, columns] = True
                continue
            cut = np.quantile(when, rng.uniform(self.params["min_cut"], 1.0))
            out[row, columns[when <= cut]] = True
        return torch.from_numpy(out)

    def _sampled_columns(self, target, rng: np.random.Generator):
        positives = torch.nonzero(target.sum(0) > 0).flatten().numpy()
        known = np.flatnonzero(self._known_items)
        size = min(len(known), self.params["sampled_negatives"])
        negatives = rng.choice(known, size, replace=False)
        return torch.from_numpy(np.union1d(positives, negatives))

    def _cache_item_vectors(self, item_x) -> None:
        with torch.no_grad():
            known = torch.from_numpy(self._known_items.astype(np.float32))
            vectors, bias = self.net.item_out(item_x, known)
            vectors, bias = vectors.numpy(), bias.numpy()
            self.item_factors = np.hstack([vectors, self._unit_content])
            self.item_bias = bias
            self._item_in = self.net.item_in(item_x).numpy()

    # -- scoring ------------------------------------------------------------------------------

    def user_vectors(self, user_rows: csr_matrix, positions: np.ndarray) -> np.ndarray:
        """The user tower's output for history rows and fitted positions (-1: unknown user)."""
        rows = csr_matrix(user_rows, dtype=np.float32)
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1))).ravel()
        rows = csr_matrix(rows.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]))
        pooled = rows @ self._item_in
        features = self._user_matrix(
            [self.users[p] if p >= 0 else "" for p in np.asarray(positions)]
        )
        history = torch.from_numpy(np.asarray(rows.todense(), dtype=np.float32))
        with torch.no_grad():
            tower = self.net.user_from_pooled(
                torch.from_numpy(np.asarray(pooled, dtype=np.float32)), torch.from_numpy(features)
            )
            profile = self.net.profile(history, torch.from_numpy(self._unit_content))
        return torch.hstack([tower, profile]).numpy()

    def scores(self, user_rows: csr_matrix, positions: np.ndarray) -> np.ndarray:
        return self.user_vectors(user_rows, positions) @ self.item_factors.T + self.item_bias

    def fold_in(self, user_rows: csr_matrix) -> np.ndarray:
        """Users not in the fit: their history is the tower's input (no refit)."""
        return self.user_vectors(user_rows, np.full(user_rows.shape[0], -1))

    # -- persistence ----------------------------------------------------------------------------

    def _save_arrays(self, path: Path) -> None:
        state = {f"net.{k}": v.numpy() for k, v in self.net.state_dict().items()}
        np.savez(
            path,
            item_factors=self.item_factors,
            item_bias=self.item_bias,
            item_in=self._item_in,
            unit_content=self._unit_content,
            known_items=self._known_items,
            user_features=self._user_matrix(self.users),
            **state,
        )

    def _load_arrays(self, path: Path) -> None:
        z = np.load(path)
        state = {k[4:]: torch.from_numpy(z[k]) for k in z.files if k.startswith("net.")}
        n_items, n_features = state["item_bias_id"].shape[0], state["item_map.weight"].shape[1]
        self.net = _towers(
            n_items, n_features, state["user_map.weight"].shape[1], state["item_id.weight"].shape[1]
        )
        self.net.load_state_dict(state)
        self.net.eval()
        self.item_factors, self.item_bias = z["item_factors"], z["item_bias"]
        self._item_in, self._known_items = z["item_in"], z["known_items"]
        self._unit_content = z["unit_content"]
        if z["user_features"].shape[1]:
            self.user_feature_table = dict(zip(self.users, z["user_features"], strict=True))


class Towers(nn.Module):
    """The two towers' parameters; see the module docstring."""

    def __init__(self, n_items: int, n_features: int, n_user_features: int, dim: int):
        super().__init__()
        self.item_id = nn.Embedding(n_items, dim)
        self.item_input_id = nn.Embedding(n_items, dim)
        nn.init.normal_(self.item_id.weight, std=0.01)
        nn.init.normal_(self.item_input_id.weight, std=0.01)
        self.item_map = nn.Linear(n_features, dim, bias=False)
        self.item_input_map = nn.Linear(n_features, dim, bias=False)
        self.item_bias_id = nn.Parameter(torch.zeros(n_items))
        self.item_bias_map = nn.Linear(n_features, 1)
        self.user_map = nn.Linear(n_user_features, dim)
        self.user_layer = nn.Linear(dim, dim)
        # the weight of plain content likeness (the user's content profile . the item's):
        # robust for new items whose content lies outside what the maps were trained on
        self.likeness_weight = nn.Parameter(torch.tensor(1.0))
        for untrained_stays_silent in (self.item_map, self.item_input_map, self.item_bias_map):
            nn.init.zeros_(untrained_stays_silent.weight)

    def item_in(self, item_x):
        return self.item_input_id.weight + self.item_input_map(item_x)

    def item_out(self, item_x, id_keep, columns=None):
        """Item vectors and biases: the content map, plus the id part where ``id_keep`` is 1
        (of the items at ``columns``, or of every item)."""
        ids = self.item_id.weight if columns is None else self.item_id(columns)
        bias_ids = self.item_bias_id if columns is None else self.item_bias_id[columns]
        vectors = self.item_map(item_x) + id_keep[:, None] * ids
        bias = self.item_bias_map(item_x).squeeze(1) + id_keep * bias_ids
        return vectors, bias

    def user_from_pooled(self, pooled, user_x):
        out = self.user_layer(pooled) + self.user_map(user_x)
        return torch.tanh(out)

    def profile(self, history, unit_content):
        """The user's content profile, weighted: the unit mean of their items' content."""
        pooled = history @ unit_content
        return self.likeness_weight * pooled / pooled.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def forward(self, history, user_x, item_x, unit, id_keep, columns=None):
        norms = history.norm(dim=1, keepdim=True).clamp_min(1e-12)
        pooled = (history / norms) @ self.item_in(item_x)
        users = self.user_from_pooled(pooled, user_x)
        profile = self.profile(history, unit)
        if columns is not None:
            item_x, id_keep, unit = item_x[columns], id_keep[columns], unit[columns]
        vectors, bias = self.item_out(item_x, id_keep, columns)
        return users @ vectors.T + profile @ unit.T + bias


def _towers(n_items: int, n_features: int, n_user_features: int, dim: int) -> Towers:
    with warnings.catch_warnings():  # no user features (or none for items): an empty map
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        return Towers(n_items, n_features, n_user_features, dim)


def unit_rows(x):
    """Rows scaled to unit length (all-zero rows stay zero)."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


register_model(TwoTowerModel)
