"""HybridRecommender: collaborative filtering blended with content similarity, explained.

score(item) = w_cf * cf(item) + (1 - w_cf) * content(item) - penalty(item), the first two
min-max scaled over the candidate items of one user. ``content`` is the cosine between the
item's content vector and the user's profile: their long-term taste (the confidence-weighted
mean of the vectors of items they showed interest in), blended with this session's likes
(``recent_weight``) and then with the current query (``session_weight``). ``penalty`` is the
caller's (items shown and ignored). ``w_cf`` grows with the user's history,
from 0 (a new user: content and session only) to ``max_cf_weight`` at ``history_for_full_cf``
positive interactions. Items nobody has interacted with yet get no CF signal and are ranked by
content; a new user with no session vector gets popularity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix

from recsys.errors import RecsysError, UnknownItemError
from recsys.matrix import UserItems, check_user_items
from recsys.models import CFModel, PopularityModel

# The reason for an item the user was shown (in results, on a card) but never acted on, when
# nothing else recommends it: "new to you" would be false, and "seen, not rated yet" (before)
# explained nothing to people in the browser; it asks for the rating that would explain more.
SEEN_REASON = "seen before: rate it?"  # right above its Like and Dislike buttons


@dataclass(frozen=True)
class BlendSettings:
    """How CF and content are mixed (``max_cf_weight`` is chosen on validation data by eval)."""

    max_cf_weight: float = 0.8
    history_for_full_cf: int = 10
    session_weight: float = 0.5  # the current query's share of the profile
    recent_weight: float = 0.0  # this session's likes' share of the taste (the rest: long-term)
    diversity: float = 0.0  # MMR: 0 = pure relevance, 1 = pure novelty
    # "mean": closeness to the mean of the user's items; "nearest": to the closest one of them
    # (keeps several interests apart instead of averaging them into none)
    taste_match: str = "mean"
    # A reason calls an item "close to" a liked item or the question only when its likeness
    # stands out from the catalogue's: at least ``close_z`` standard deviations above the mean
    # similarity to that thing (or it is the thing's nearest neighbour). Otherwise it claims none.
    close_z: float = 1.0


@dataclass
class Recommendation:
    """One recommended item and why: the liked item or query it is close to, and score shares."""

    item: str
    score: float
    cf_share: float
    content_share: float
    because: str
    similar_to: str | None = None
    from_session: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class UserContext:
    """What is known of one user at recommendation time."""

    row: csr_matrix  # 1 x catalogue items, confidences
    position: int = -1  # row in the CF model's fit, -1 if the model has not seen the user
    session: np.ndarray | None = None
    exclude: set[int] = field(default_factory=set)  # catalogue positions never to recommend
    exclude_seen: bool = True  # False: items in ``row`` may come back (the caller excludes)
    recent: csr_matrix | None = None  # 1 x items: this session's likes (a part of ``row``)
    penalty: np.ndarray | None = None  # per catalogue item, subtracted from the blended score
    shown_as: dict[int, str] = field(default_factory=dict)  # item -> "liked", "opened", ...
    seen: set[int] = field(default_factory=set)  # items shown to the user, never acted on


def _minmax(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] over the entries where ``mask`` is true (constant rows become 0)."""
    chosen = values[mask]
    if chosen.size == 0:
        return np.zeros_like(values)
    low, high = chosen.min(), chosen.max()
    if high - low < 1e-12:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class HybridRecommender:
    """Blends a CF model with content vectors over one catalogue of items."""

    def __init__(
        self,
        items: Iterable[str],
        content: np.ndarray,
        cf: CFModel,
        settings: BlendSettings = BlendSettings(),
    ):
        self.items = list(items)
        self.item_index = {item: i for i, item in enumerate(self.items)}
        content = np.asarray(content, dtype=np.float32)
        if content.shape[0] != len(self.items):
            raise RecsysError(f"{content.shape[0]} content vectors for {len(self.items)} items")
        self.content = _unit(content)
        self.cf = cf
        self.popularity = PopularityModel()
        self.settings = settings
        self._floors: dict[int, float] = {}  # catalogue item -> its neighbourhood's floor

    @property
    def name(self) -> str:
        return f"hybrid-{self.cf.name}"

    def fit(self, data: UserItems) -> HybridRecommender:
        """Fit CF on interactions over exactly this catalogue (cold items: empty columns)."""
        if data.items != self.items:
            raise RecsysError("the interaction matrix must have the catalogue's items, in order")
        self.cf.fit(data)
        return self.use_fitted(self.cf, data)

    def use_fitted(self, cf: CFModel, data: UserItems) -> HybridRecommender:
        """Serve a CF model fitted elsewhere (a saved snapshot) over this catalogue; ``data``:
        the users x catalogue items matrix it was fitted on (popularity and reasons count the
        users who showed interest in an item; only which cells are positive matters)."""
        if cf.items != self.items or data.items != self.items:
            raise RecsysError("the CF model and matrix must have the catalogue's items, in order")
        self.cf = cf
        self.popularity.fit(data)
        self._positive = (data.matrix > 0).astype(np.int8).tocsc()
        return self

    def liked_by(self, item: int) -> int:
        """How many users of the fitted data showed interest in catalogue item ``item``."""
        positive = getattr(self, "_positive", None)
        return 0 if positive is None else int(positive[:, item].nnz)

    def co_likers(self, item: int, liked: list[int], position: int = -1) -> int:
        """Users of the fitted data (other than the one at ``position``) who showed interest in
        ``item`` and in at least one of ``liked``."""
        positive = getattr(self, "_positive", None)
        if positive is None or not liked:
            return 0
        likers = positive[:, item].indices
        likers = likers[likers != position]
        if likers.size == 0:
            return 0
        shared = positive[:, liked].tocsr()[likers]
        return int((np.diff(shared.indptr) > 0).sum())

    def closeness_floor(self, vector: np.ndarray, itself: int | None = None) -> float:
        """The least similarity to ``vector`` (a catalogue item's, ``itself`` left out, or the
        question's) that counts as "close": ``close_z`` standard deviations above the mean of
        the catalogue's similarities to it, or its nearest neighbour's, whichever is lower."""
        if itself is not None and itself in self._floors:
            return self._floors[itself]
        similarity = self.content @ _unit(np.asarray(vector, dtype=np.float32).reshape(-1))
        if itself is not None:
            similarity = np.delete(similarity, itself)
        if similarity.size == 0:
            return np.inf
        standing_out = float(similarity.mean() + self.settings.close_z * similarity.std())
        floor = min(standing_out, float(similarity.max()))
        if itself is not None:
            self._floors[itself] = floor
        return floor

    def _floor_of(self, item: int) -> float:
        return self.closeness_floor(self.content[item], itself=item)

    # -- scoring -----------------------------------------------------------------------------

    def cf_weight(self, history: int) -> float:
        """The CF share for a user with ``history`` positive interactions."""
        s = self.settings
        return s.max_cf_weight * min(1.0, history / max(1, s.history_for_full_cf))

    def profile(
        self, row: csr_matrix, session: np.ndarray | None, recent: csr_matrix | None = None
    ) -> np.ndarray | None:
        """The user's content profile: their taste (long-term, blended with this session's likes
        by ``recent_weight``), mixed with the current query by ``session_weight``."""
        liked = _unit(row @ self.content) if row.nnz else None
        r = self.settings.recent_weight
        if liked is not None and recent is not None and recent.nnz and r > 0:
            liked = _unit((1 - r) * liked + r * _unit(recent @ self.content))
        if session is None:
            return None if liked is None else liked[0]
        session = _unit(np.asarray(session, dtype=np.float32).reshape(1, -1))[0]
        if session.shape[0] != self.content.shape[1]:
            raise RecsysError(
                f"session vector has {session.shape[0]} dims; content has {self.content.shape[1]}"
            )
        if liked is None:
            return session
        w = self.settings.session_weight
        return _unit((1 - w) * liked[0] + w * session)

    def score(
        self, users: list[UserContext]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Blended scores (users x items) and their CF part, content part and CF weights (a
        weight of -1 marks a user ranked by popularity alone).

        Excluded and already-seen items get -inf."""
        rows = check_user_items(
            csr_matrix(np.zeros((0, len(self.items))))
            if not users
            else _stack([u.row for u in users]),
            len(users),
            len(self.items),
        )
        positions = np.array([u.position for u in users], dtype=int)
        cf_raw = self.cf.scores(rows, positions)
        popularity = self.popularity.scores(rows, positions)
        blended = np.zeros_like(cf_raw)
        cf_part, content_part = np.zeros_like(cf_raw), np.zeros_like(cf_raw)
        weights = np.zeros(len(users), dtype=np.float32)
        for n, user in enumerate(users):
            candidates = np.ones(len(self.items), dtype=bool)
            if user.exclude_seen:
                candidates[rows[n].indices] = False
            candidates[list(user.exclude)] = False
            profile = self.profile(rows[n], user.session, user.recent)
            history = int((rows[n].data > 0).sum())
            known_to_cf = history > 0 and (user.position >= 0 or self.cf.can_fold_in)
            if profile is None and not known_to_cf:
                weights[n] = -1.0
                cf_part[n] = _minmax(popularity[n], candidates)
            else:
                weights[n] = self.cf_weight(history) if known_to_cf else 0.0
                cf_part[n] = weights[n] * _minmax(cf_raw[n], candidates)
                if profile is not None:
                    closeness = self._closeness(rows[n], user, profile)
                    content_part[n] = (1 - weights[n]) * _minmax(closeness, candidates)
            blended[n] = cf_part[n] + content_part[n]
            if user.penalty is not None:
                blended[n] -= user.penalty
            blended[n, ~candidates] = -np.inf
        return blended, cf_part, content_part, weights

    def _closeness(self, row: csr_matrix, user: UserContext, profile: np.ndarray) -> np.ndarray:
        """Each item's content closeness to the user: to their profile ("mean"), or to the
        nearest of their items, blended like the profile ("nearest")."""
        if self.settings.taste_match != "nearest" or not row.nnz:
            return self.content @ profile
        s = self.settings

        def nearest(part: csr_matrix | None) -> np.ndarray | None:
            if part is None or not part.nnz:
                return None
            chosen = part.indices[part.data > 0]
            return (self.content[chosen] @ self.content.T).max(axis=0) if chosen.size else None

        taste, recent = nearest(row), nearest(user.recent)
        if taste is None:
            return self.content @ profile
        if recent is not None and s.recent_weight > 0:
            taste = (1 - s.recent_weight) * taste + s.recent_weight * recent
        if user.session is None:
            return taste
        query = _unit(np.asarray(user.session, dtype=np.float32).reshape(1, -1))[0]
        return (1 - s.session_weight) * taste + s.session_weight * (self.content @ query)

    # -- recommending ------------------------------------------------------------------------

    def recommend(self, user: UserContext, k: int = 10) -> list[Recommendation]:
        """The top-k items for one user, each with the reason that produced it."""
        blended, cf_part, content_part, weights = self.score([user])
        order = self._select(blended[0], k)
        query = None
        if user.session is not None:
            query = _unit(np.asarray(user.session, dtype=np.float32).reshape(-1))
        floor = self.closeness_floor(query) if query is not None else np.inf
        return [
            self._explain(
                i, blended[0, i], cf_part[0, i], content_part[0, i], weights[0], user, query, floor
            )
            for i in order
        ]

    def _select(self, scores: np.ndarray, k: int) -> list[int]:
        finite = np.flatnonzero(np.isfinite(scores))
        ranked = finite[np.argsort(-scores[finite], kind="stable")]
        lam = self.settings.diversity
        if lam <= 0 or len(ranked) <= k:
            return ranked[:k].tolist()
        pool = ranked[: max(5 * k, 50)].tolist()
        chosen = [pool.pop(0)]
        while pool and len(chosen) < k:
            similarity = self.content[pool] @ self.content[chosen].T
            mmr = (1 - lam) * scores[pool] - lam * similarity.max(axis=1)
            chosen.append(pool.pop(int(np.argmax(mmr))))
        return chosen

    def _explain(
        self,
        item: int,
        score: float,
        cf: float,
        content: float,
        weight: float,
        user: UserContext,
        query: np.ndarray | None,
        query_floor: float,
    ) -> Recommendation:
        """Name what produced the item: the query or the item of the user's it is close to (never
        itself), the users who share the user's likes (only when CF counted and they exist),
        or popularity, with the counts behind the claim."""
        if weight < 0:  # no taste and no query: popularity alone
            return Recommendation(
                self.items[item], round(float(score), 4), 1.0, 0.0, self._fallback(item, user)
            )
        total = cf + content
        cf_share = float(cf / total) if total > 0 else 0.0
        interested = [int(i) for i in user.row.indices if user.row[0, i] > 0]
        others = [i for i in interested if i != item]
        vector = self.content[item]
        near = [i for i in others if vector @ self.content[i] >= self._floor_of(i)]
        best = max(near, key=lambda i: float(vector @ self.content[i]), default=None)
        liked_sim = float(vector @ self.content[best]) if best is not None else -np.inf
        query_sim = -np.inf
        if query is not None and vector @ query >= query_floor:
            query_sim = float(vector @ query)
        by_content = None  # (reason, similar_to, from_session): what the content part means
        if query_sim > -np.inf and query_sim >= liked_sim:
            by_content = ("close to what you asked for", None, True)
        elif best is not None:
            verb = user.shown_as.get(best, "liked")
            by_content = (f"close to {self.items[best]}, which you {verb}", self.items[best], False)
        reasons: list[str] = []
        if by_content is not None and (cf_share < 0.5 or total <= 0):
            reasons.append(by_content[0])
        people = self.co_likers(item, others, user.position) if cf_share >= 0.3 else 0
        if people:
            reasons.append(f"liked by {people} people who share your likes")
        if not reasons and by_content is not None:  # CF chose it, but nobody shares the likes
            reasons.append(by_content[0])
        if not reasons:
            reasons.append(self._fallback(item, user))
        _, similar_to, from_session = (
            by_content if by_content and by_content[0] in reasons else ("", None, False)
        )
        return Recommendation(
            self.items[item],
            round(float(score), 4),
            round(cf_share, 3),
            round(1 - cf_share, 3),
            "; ".join(reasons),
            similar_to,
            from_session,
        )

    def _fallback(self, item: int, user: UserContext) -> str:
        """The reason when neither taste nor question explains an item: how many people liked
        it, else whether the user has been shown it."""
        count = self.liked_by(item)
        if count:
            return f"popular: {count} people liked it"
        return SEEN_REASON if item in user.seen else "new to you"

    def context_for(
        self,
        events: Iterable[tuple[str, float]],
        user: str | None = None,
        session: np.ndarray | None = None,
        exclude: Iterable[str] = (),
    ) -> UserContext:
        """A UserContext from (item, confidence) pairs; an unknown item raises UnknownItemError."""
        columns, values = [], []
        for item, confidence in events:
            if item not in self.item_index:
                raise UnknownItemError(f"unknown item {item!r}")
            columns.append(self.item_index[item])
            values.append(confidence)
        row = csr_matrix(
            (np.asarray(values, np.float32), ([0] * len(columns), columns)),
            shape=(1, len(self.items)),
        )
        row.sum_duplicates()
        position = self.cf.user_position(user) if user is not None else -1
        blocked = {self.item_index[i] for i in exclude if i in self.item_index}
        return UserContext(row, position, session, blocked)


def _stack(rows: list[csr_matrix]) -> csr_matrix:
    from scipy.sparse import vstack

    return vstack(rows).tocsr()
