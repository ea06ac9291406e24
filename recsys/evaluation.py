"""Offline evaluation: every model on the protocols of ``recsys.protocols``, on the same splits.

Every tuned choice is made on a validation split carved from the training data of the split at
hand, the same way (never on the test split): the hybrid's CF share and then the half-life of
its time decay (counted back from each user's latest training event, as the live loop does) on
the warm protocol's validation; the two-tower model's content components and epochs, and
LightFM's epochs, on each protocol's own validation split. The baselines are fitted on the
undecayed training matrix. ``peer`` and ``trivial`` rows (LightFM; genre count, the
test-popularity cheat) come from ``recsys.peers``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from recsys import peers
from recsys.datasets import Rating, RatingsDataset, tag_matrix
from recsys.hybrid import BlendSettings, HybridRecommender, UserContext
from recsys.metrics import ranking_metrics
from recsys.models import make_model
from recsys.peers import PeerUnavailable
from recsys.protocols import (
    PROTOCOLS,
    Protocol,
    Split,
    make_split,
    mask_scores,
    temporal_split,
)

log = logging.getLogger(__name__)
BASELINES = ("popularity", "itemknn", "als", "bpr")
BLEND_GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)
HALF_LIFE_GRID = (0.0, 7.0, 30.0, 90.0, 365.0)  # days; 0: no decay
Embed = Callable[[list[str]], np.ndarray]


def _cf_scores(model, split: Split) -> np.ndarray:
    scores = model.scores(split.train.matrix, np.arange(len(split.train.users)))
    return mask_scores(scores, split)


def _hybrid_scores(hybrid: HybridRecommender, split: Split) -> np.ndarray:
    excluded = set(np.flatnonzero(~split.candidates).tolist())
    contexts = [
        UserContext(split.train.matrix[u : u + 1], u, None, excluded)
        for u in range(len(split.train.users))
    ]
    return mask_scores(hybrid.score(contexts)[0], split)


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
    train_ratings = training_ratings(split, ratings)
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
    train_ratings = training_ratings(split, ratings)
    results = {}
    for days in HALF_LIFE_GRID:
        validation = temporal_split(
            train_ratings, split.train.users, split.train.items, protocol, half_life_days=days
        )
        results[str(days)] = _validation_ndcg(validation, content, blend, protocol)
    best = max(HALF_LIFE_GRID, key=lambda d: results[str(d)])
    return best, results


MODELS = ("popularity", "itemknn", "als", "bpr", "hybrid", "twotower")
PEERS = ("lightfm_tags", "lightfm_content")
TRIVIAL = ("genre_count", "test_popularity_cheat")
COLD_ITEM_ONLY = ("genre_count",)  # meaningless where warm items are ranked
TWOTOWER_COMPONENTS = (8, 32)  # content PCA sizes tried on validation
TWOTOWER_CHECKPOINTS = (25, 50, 75, 100, 125, 150)  # epochs tried on validation


@dataclass
class EvalContext:
    """What every model of one evaluation run may use (never the test split's answers, except
    the test-popularity cheat, which is labelled as such)."""

    dataset: RatingsDataset
    users: list[str]
    items: list[str]
    content: np.ndarray  # items x d: text embedding of each item's description
    item_tags: np.ndarray  # items x tags, multi-hot (genres, period), may have 0 columns
    user_tags: dict[str, np.ndarray]  # user -> multi-hot (age band, gender, occupation)
    protocol: Protocol
    chosen: dict = field(default_factory=dict)  # choices made on validation, for the report

    @classmethod
    def build(cls, dataset: RatingsDataset, embed: Embed, protocol: Protocol) -> EvalContext:
        items, users = dataset.items, sorted({r.user for r in dataset.ratings})
        content = np.asarray(embed([dataset.item_text.get(i, i) for i in items]), np.float32)
        item_tags, _ = tag_matrix(items, dataset.item_tags)
        user_matrix, _ = tag_matrix(users, dataset.user_tags)
        user_tags = dict(zip(users, user_matrix, strict=True)) if user_matrix.shape[1] else {}
        return cls(dataset, users, items, content, item_tags, user_tags, protocol)

    def validation(self, name: str, split: Split) -> Split:
        """Protocol ``name``'s split made again inside ``split``'s training data."""
        protocol = Protocol(**{**asdict(self.protocol), "seed": self.protocol.seed + 100})
        return make_split(
            name, training_ratings(split, self.dataset.ratings), self.users, self.items, protocol
        )


def training_ratings(split: Split, ratings: Sequence[Rating]) -> list[Rating]:
    """The ratings behind ``split``'s training matrix (its positives; test pairs, cold items and
    cold users left out)."""
    users, items = split.train.user_index, split.train.item_index
    rows = [users[r.user] for r in ratings]
    columns = [items[r.item] for r in ratings]
    trained = np.asarray(split.train.matrix[rows, columns]).ravel() > 0
    return [r for r, kept in zip(ratings, trained, strict=True) if kept]


def ndcg(scores: np.ndarray, split: Split, k: int) -> float:
    """nDCG@k of masked scores on ``split``'s test sets."""
    return ranking_metrics(scores, split.test, k)[f"ndcg@{k}"]


# -- the two-tower model: content components and epochs chosen on validation --------------------


def _twotower(ctx: EvalContext, components: int, **options):
    from recsys.twotower import item_feature_matrix

    features = item_feature_matrix(ctx.content, ctx.item_tags, components)
    return make_model(
        "twotower",
        ctx.protocol.seed,
        item_features=features,
        item_content=ctx.content,
        user_features=ctx.user_tags,
        **options,
    )


def choose_twotower(ctx: EvalContext, name: str, split: Split) -> tuple[dict, dict]:
    """The content components and epochs with the best validation nDCG on protocol ``name``;
    and every validation result ("components/epochs": nDCG)."""
    validation = ctx.validation(name, split)
    results: dict[str, float] = {}
    for components in TWOTOWER_COMPONENTS:

        def record(epoch: int, model, components=components) -> None:
            scores = _cf_scores(model, validation)
            results[f"{components}/{epoch}"] = ndcg(scores, validation, ctx.protocol.k)

        _twotower(ctx, components, epochs=max(TWOTOWER_CHECKPOINTS)).fit(
            validation.train, checkpoints=TWOTOWER_CHECKPOINTS, on_checkpoint=record
        )
    components, epochs = max(results, key=results.get).split("/")
    return {"components": int(components), "epochs": int(epochs)}, results


# -- one model on one split -------------------------------------------------------------------


def _hybrid_choice(ctx: EvalContext) -> tuple[BlendSettings, float]:
    """The hybrid's blend and half-life, chosen once per run on the warm validation split."""
    if "hybrid" not in ctx.chosen:
        warm = temporal_split(ctx.dataset.ratings, ctx.users, ctx.items, ctx.protocol)
        blend, by_weight = choose_blend(warm, ctx.dataset.ratings, ctx.content, ctx.protocol)
        half_life, by_days = choose_half_life(
            warm, ctx.dataset.ratings, ctx.content, ctx.protocol, blend
        )
        ctx.chosen["hybrid"] = {
            "blend": asdict(blend),
            "validation_ndcg_by_max_cf_weight": by_weight,
            "half_life_days": half_life,
            "validation_ndcg_by_half_life_days": by_days,
        }
    chosen = ctx.chosen["hybrid"]
    return BlendSettings(**chosen["blend"]), chosen["half_life_days"]


def score_model(model: str, protocol_name: str, split: Split, ctx: EvalContext) -> np.ndarray:
    """Masked scores (users x items) of ``model`` fitted on ``split``'s training data."""
    if model in BASELINES:
        return _cf_scores(make_model(model, ctx.protocol.seed).fit(split.train), split)
    if model == "hybrid":
        blend, half_life = _hybrid_choice(ctx)
        own = split
        if protocol_name == "warm" and half_life:  # the others have no per-user time cut
            own = temporal_split(ctx.dataset.ratings, ctx.users, ctx.items, ctx.protocol, half_life)
        cf = make_model("als", ctx.protocol.seed)
        hybrid = HybridRecommender(ctx.items, ctx.content, cf, blend).fit(own.train)
        return _hybrid_scores(hybrid, own)
    if model == "twotower":
        chosen, grid = choose_twotower(ctx, protocol_name, split)
        ctx.chosen.setdefault("twotower", {})[protocol_name] = {**chosen, "validation_ndcg": grid}
        fitted = _twotower(ctx, chosen["components"], epochs=chosen["epochs"]).fit(split.train)
        return _cf_scores(fitted, split)
    if model in PEERS:
        validation = ctx.validation(protocol_name, split)
        scores, chosen = peers.lightfm_scores(model, split, validation, ctx)
        ctx.chosen.setdefault(model, {})[protocol_name] = chosen
        return mask_scores(scores, split)
    if model == "genre_count":
        return mask_scores(np.tile(peers.genre_count(ctx), (len(ctx.users), 1)), split)
    if model == "test_popularity_cheat":
        return mask_scores(np.tile(peers.test_popularity(split), (len(ctx.users), 1)), split)
    raise ValueError(f"unknown model {model!r}; use one of {MODELS + PEERS + TRIVIAL}")


def _describe(protocol: Protocol) -> dict:
    return {
        **asdict(protocol),
        "implicit_feedback": f"rating >= {protocol.positive_threshold}",
        "warm": f"per-user temporal split of positives, last {protocol.test_fraction:.0%} "
        "held out; items seen in training excluded",
        "cold_items": f"{protocol.cold_fraction:.0%} of items removed from training; only they "
        "are ranked, for the users who liked them (likes over the whole timeline)",
        "cold_items_time": f"time cut at the {protocol.time_cut_quantile:.0%} quantile of "
        "rating times; items first rated after it are cold; train on positives before it, test "
        "on cold items' positives after it, for users with training history; only cold items "
        "ranked",
        "cold_users": f"{protocol.cold_user_fraction:.0%} of users removed from training; all "
        "their positives are the test; all items ranked",
        "content": "text embedding of each item's description; tags: genres, release period; "
        "user tags: age band, gender, occupation",
    }


def evaluate(
    dataset: RatingsDataset,
    embed: Embed,
    protocol: Protocol | None = None,
    progress: bool = True,
    protocols: Sequence[str] = ("warm", "cold_items"),
    models: Sequence[str] = MODELS,
) -> dict:
    """Run ``models`` on ``protocols``; returns the JSON-able report (metrics and fit seconds per
    protocol and model, and every choice made on validation)."""
    protocol = protocol or Protocol()
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)}; use {PROTOCOLS}")
    started = time.perf_counter()
    ctx = EvalContext.build(dataset, embed, protocol)
    report: dict = {
        "dataset": dataset.name,
        "protocol": _describe(protocol),
        "timing_s": {"embed_items": round(time.perf_counter() - started, 2)},
    }
    for name in protocols:
        split = make_split(name, dataset.ratings, ctx.users, ctx.items, protocol)
        report[name] = {}
        runnable = [m for m in models if name.startswith("cold_items") or m not in COLD_ITEM_ONLY]
        for model in tqdm(runnable, desc=f"{name} models", disable=not progress):
            fit_started = time.perf_counter()
            try:
                scores = score_model(model, name, split, ctx)
            except PeerUnavailable as exc:
                log.warning("%s skipped: %s", model, exc)
                report[name][model] = {"skipped": str(exc)}
                continue
            metrics = ranking_metrics(scores, split.test, protocol.k, int(split.candidates.sum()))
            metrics["fit_and_score_s"] = round(time.perf_counter() - fit_started, 2)
            report[name][model] = metrics
    if "hybrid" in ctx.chosen:
        chosen = ctx.chosen["hybrid"]
        report["blend"] = {
            "chosen": chosen["blend"],
            "validation_ndcg_by_max_cf_weight": chosen["validation_ndcg_by_max_cf_weight"],
        }
        report["decay"] = {
            "chosen_half_life_days": chosen["half_life_days"],
            "validation_ndcg_by_half_life_days": chosen["validation_ndcg_by_half_life_days"],
        }
    report["chosen_on_validation"] = {k: v for k, v in ctx.chosen.items() if k != "hybrid"}
    report["timing_s"]["total"] = round(time.perf_counter() - started, 2)
    return report
