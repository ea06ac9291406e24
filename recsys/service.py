"""RecommendationService: live, explained recommendations over an interaction store.

The model that serves is ALS by default. The two-tower model (``recsys.twotower``: item content
inside the model) leads on MovieLens-100k but trails ALS in the live session simulator
(docs/recsys.md), so it serves only when asked for (``model="twotower"``): it is then fitted in
a background thread, out of the request path, while ALS (fitted in a fraction of a second)
serves, and while fewer than ``MIN_EVENTS_TO_LEARN`` events exist ALS stays. New events take
effect at once (both models fold the user's current history in without a refit, and the content
profile is rebuilt from it); after ``refit_after`` new events the model is refitted in a
background thread and swapped in. New events are counted in the store, not in this process, so
several app processes over one database each refit after the events any of them recorded (and
each reads a user's history from the store on every request). Events are weighed by
``recsys.signals``: likes far above clicks and plays, views not at all, items shown and ignored
slightly down.

At scale, and with several app processes, nothing is fitted in the serving process: with
``snapshots=DIR`` the service serves the newest model a fit job wrote there (``recsys.snapshots``,
``crossmedia recommend fit``), checks for a newer one every ``poll_s`` seconds (loading it on a
background thread, so no request waits for it), and never refits
itself; events still count at once through fold-in. With no usable snapshot in ``DIR`` (none
yet, or a corrupt one) it says so in the log and fits in this process as above.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from recsys.errors import SnapshotError, UnknownItemError, UnknownUserError
from recsys.events import Event, EventKind
from recsys.hybrid import BlendSettings, HybridRecommender, Recommendation
from recsys.matrix import UserItems
from recsys.models import make_model
from recsys.signals import DEFAULT_SIGNALS, SignalWeights, now, weighed_triples
from recsys.snapshots import Snapshot, latest_name, load_snapshot
from recsys.store import InteractionStore

log = logging.getLogger(__name__)
# The live loop's blend (the offline MovieLens protocol keeps BlendSettings' defaults): chosen
# with bench/session_sim.py, see docs/recsys.md.
# Chosen with bench/session_sim.py on DEV people (docs/recsys.md): the mean of the user's items
# as their taste beat the nearest-item match there (share of the top 5 in their kinds after 3
# likes 0.60 vs 0.53) and on TEST people (0.64 vs 0.57).
LIVE_BLEND = BlendSettings(
    max_cf_weight=0.3, session_weight=0.4, recent_weight=0.0, diversity=0.2, taste_match="mean"
)
MIN_EVENTS_TO_LEARN = 50  # fewer positive events: the first (fast) model keeps serving
TWOTOWER_COMPONENTS = 32  # content principal components the live two-tower model learns from
COUNT_EVERY_S = 1.0  # recommend reads the count of new events at most this often
SHOWN_AS = {
    EventKind.LIKE: "liked",
    EventKind.RATING: "rated highly",
    EventKind.CLICK: "opened",
    EventKind.PLAY: "played",
}


class RecommendationService:
    """Recommends catalogue items to users of an InteractionStore, and learns from feedback."""

    def __init__(
        self,
        store: InteractionStore,
        items: Iterable[str],
        content: np.ndarray,
        model: str = "als",
        settings: BlendSettings | None = None,
        refit_after: int = 50,
        seed: int = 0,
        signals: SignalWeights = DEFAULT_SIGNALS,
        first_model: str = "als",
        snapshots: str | Path | None = None,
        poll_s: float = 30.0,
    ):
        """``model`` is what serves once fitted; ``first_model`` (fast) serves from the start
        while ``model`` is fitted in the background, out of the request path. ``snapshots``: a
        folder a fit job writes models to; the newest one serves (see the module docstring)."""
        self.store = store
        self.items = list(items)
        self.item_set = set(self.items)
        self.content = np.asarray(content, dtype=np.float32)
        self.model_name, self.seed = model, seed
        self.settings = settings or LIVE_BLEND
        self.signals = signals
        self.refit_after = refit_after
        self._swap = threading.Lock()
        self._refit_thread: threading.Thread | None = None
        self._loader: threading.Thread | None = None  # loads a newer snapshot off the request
        self._refit_again = False
        self.first_model = first_model
        self.snapshots = None if snapshots is None else Path(snapshots)
        self.poll_s = poll_s
        self.snapshot: str | None = None  # the snapshot serving; None: fitted in this process
        self._unreadable: str | None = None
        self._next_poll = time.monotonic() + poll_s
        self._next_count = 0.0  # when recommend next counts the events other processes wrote
        self._fitted_upto = 0  # the newest event id the serving model was fitted with
        self._fitting_upto: int | None = None  # the same for the refit running; None: not read yet
        served = self._first_snapshot()
        if served is not None:
            self.snapshot, self.hybrid = served
            return
        self.hybrid, self._fitted_upto = self._fit(first_model)
        if self.hybrid.cf.name != model:
            self.refit(background=True)

    # -- snapshots written by a fit job ------------------------------------------------------

    def _first_snapshot(self) -> tuple[str, HybridRecommender] | None:
        if self.snapshots is None:
            return None
        name = None
        try:
            name = latest_name(self.snapshots)
            if name is not None:
                return name, self._serving(load_snapshot(self.snapshots, name))
        except SnapshotError as exc:
            self._unreadable = name
            log.warning("%s; fitting in this process instead", exc)
            return None
        log.info(
            "no fitted model in %s yet: fitting in this process (run `crossmedia recommend fit` "
            "to fit out of the request path)",
            self.snapshots,
        )
        return None

    def _serving(self, snapshot: Snapshot) -> HybridRecommender:
        cf, data = snapshot.aligned_to(self.items)
        hybrid = HybridRecommender(self.items, self.content, cf, self.settings)
        log.info("serving model snapshot %s: %s", snapshot.name, snapshot.summary())
        return hybrid.use_fitted(cf, data)

    def reload(self) -> bool:
        """Serve the newest snapshot if it is not the one serving; True when one was swapped
        in. ``recommend`` has it done on a background thread when a newer one appears."""
        if self.snapshots is None:
            return False
        name = None
        try:
            name = latest_name(self.snapshots)
            if name is None or name in (self.snapshot, self._unreadable):
                return False
            hybrid = self._serving(load_snapshot(self.snapshots, name))
        except SnapshotError as exc:
            self._unreadable = name
            log.warning("%s; keeping the model that serves", exc)
            return False
        with self._swap:
            self.snapshot, self.hybrid = name, hybrid
        return True

    def _poll(self) -> None:
        """Every ``poll_s`` seconds, see whether a newer snapshot was written (one small file
        read) and, if so, load it on a thread of its own: the request that noticed it, and those
        after it, are answered by the model serving until the new one is ready."""
        moment = time.monotonic()
        if self.snapshots is None or moment < self._next_poll:
            return
        self._next_poll = moment + self.poll_s
        try:
            name = latest_name(self.snapshots)
        except SnapshotError as exc:
            log.warning("%s; keeping the model that serves", exc)
            return
        if name is None or name in (self.snapshot, self._unreadable):
            return
        with self._swap:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(target=self.reload, name="recsys-snapshot")
            self._loader.start()

    def wait_for_reload(self, timeout: float | None = None) -> None:
        """Block until a snapshot being loaded in the background is serving (or refused)."""
        if self._loader is not None:
            self._loader.join(timeout)

    def _new_model(self, name: str):
        if name == "twotower":
            from recsys.twotower import item_feature_matrix

            features = item_feature_matrix(self.content, None, TWOTOWER_COMPONENTS)
            return make_model(name, self.seed, item_features=features, item_content=self.content)
        return make_model(name, self.seed)

    def _fit(self, name: str | None = None) -> tuple[HybridRecommender, int]:
        """A model fitted on every stored event, and the newest event's id it saw."""
        with self._swap:  # read first: what comes after counts towards the next refit
            upto = self._fitting_upto = self.store.newest_id()
        events = (e for e in self.store.events() if e.item in self.item_set)
        triples = weighed_triples(events, self.signals)
        users = sorted({t[0] for t in triples})
        data = UserItems.from_triples(triples, users=users, items=self.items)
        name = name or self.model_name
        if len(triples) < MIN_EVENTS_TO_LEARN and name != self.first_model:
            name = self.first_model  # too little to learn a model from: the fast one serves
        model = self._new_model(name)
        hybrid = HybridRecommender(self.items, self.content, model, self.settings)
        hybrid.fit(data)
        log.info("fitted %s on %d events from %d users", hybrid.name, len(triples), len(users))
        return hybrid, upto

    def refit(self, background: bool = True) -> None:
        """Refit on every stored event (in a daemon thread unless ``background`` is false). A
        refit asked for while one runs is done right after it (its events are not lost)."""
        with self._swap:
            if self._refit_thread is not None and self._refit_thread.is_alive():
                self._refit_again = True
                return
            self._refit_again = False
            self._fitting_upto = None

        def work() -> None:
            while True:
                try:
                    fresh = self._fit()
                except Exception:  # a failed refit keeps the previous model serving
                    log.exception("background refit failed; keeping the previous model")
                    fresh = None
                with self._swap:
                    if fresh is not None and self.snapshot is None:  # a fit job's model wins
                        self.hybrid, self._fitted_upto = fresh
                    if not self._refit_again:
                        return
                    self._refit_again = False
                    self._fitting_upto = None

        if not background:
            work()
            return
        # not a daemon: torch must not be torn down under a running fit at exit
        self._refit_thread = threading.Thread(target=work, name="recsys-refit")
        self._refit_thread.start()

    def wait_for_refit(self, timeout: float | None = None) -> None:
        """Block until a running background refit (and any asked for meanwhile) finishes."""
        if self._refit_thread is not None:
            self._refit_thread.join(timeout)

    def feedback(self, user: str, item: str, kind: str | EventKind, value: float = 1.0) -> Event:
        """Record what a user did with a catalogue item; refits in the background when due."""
        if item not in self.item_set:
            raise UnknownItemError(f"unknown item {item!r}: it is not in the catalogue")
        event = self.store.log(user, item, kind, value)
        self._refit_if_due()
        return event

    def _refit_if_due(self) -> None:
        """Refit in the background once ``refit_after`` events that are not mere views were
        written (by this process or any other) since the serving model was fitted."""
        if self.snapshot is not None:  # a fit job refits; this process only folds events in
            return
        with self._swap:
            if self._refit_again:
                return  # a refit is asked for already: it will read these events
            running = self._refit_thread is not None and self._refit_thread.is_alive()
            if running and self._fitting_upto is None:
                return  # the running refit has not read the events yet: it will see these
            since = self._fitting_upto if running else self._fitted_upto
            due = self.store.count(after=since, without=(EventKind.VIEW,)) >= self.refit_after
            if due and running:
                self._refit_again = True  # events came after the running fit read its own
                return
        if due:
            self.refit(background=True)

    def acted_on(self, user: str, latest: int = 100) -> list[str]:
        """The items ``user`` last liked, clicked, played, rated or disliked (views aside),
        newest first, at most ``latest`` of them; none for an unknown user."""
        try:
            history = self.store.events(user)
        except UnknownUserError:
            return []
        acted = sorted(self._acted(history), key=lambda e: e.timestamp, reverse=True)
        return list(dict.fromkeys(e.item for e in acted))[:latest]

    def _acted(self, history: Iterable[Event]) -> list[Event]:
        """The events of ``history`` that act on a library item: all but views."""
        return [e for e in history if e.kind is not EventKind.VIEW and e.item in self.item_set]

    def recommend(
        self,
        user: str,
        k: int = 10,
        session: np.ndarray | None = None,
        exclude: Iterable[str] = (),
    ) -> list[Recommendation]:
        """Top-k for ``user`` (a user with no history gets session-based, then popular items).

        Items the user liked, clicked, played, rated or disliked are never recommended; items
        only shown may come back, a little lower each time they were ignored."""
        self._poll()
        if time.monotonic() >= self._next_count:  # events other processes recorded count too,
            self._next_count = time.monotonic() + COUNT_EVERY_S  # read at most once a second
            self._refit_if_due()
        moment = now()
        confidence: dict[str, float] = defaultdict(float)
        recent: dict[str, float] = defaultdict(float)
        strongest: dict[str, tuple[float, EventKind]] = {}
        showings: dict[str, int] = defaultdict(int)
        acted_on: set[str] = set()  # liked, clicked, played, rated or disliked: never again
        try:
            history = self.store.events(user)
        except UnknownUserError:
            history = []  # a new user: session context, then popularity
        latest = max((e.timestamp for e in history), default=moment)
        for event in history:
            if event.kind is EventKind.VIEW and event.item in self.item_set:
                showings[event.item] += 1
        for event in self._acted(history):
            acted_on.add(event.item)
            weight = self.signals.confidence(event, latest)
            if weight <= 0:
                continue
            confidence[event.item] += weight
            if moment - event.timestamp <= self.signals.recent_seconds:
                recent[event.item] += weight
            if weight > strongest.get(event.item, (0.0, event.kind))[0]:
                strongest[event.item] = (weight, event.kind)
        with self._swap:
            hybrid = self.hybrid
        context = hybrid.context_for(confidence.items(), user, session, {*exclude, *acted_on})
        context.exclude_seen = False
        if recent:
            context.recent = hybrid.context_for(recent.items()).row
        ignored = {i: n for i, n in showings.items() if i not in acted_on}
        context.seen = {hybrid.item_index[item] for item in ignored}
        if ignored and self.signals.ignored_penalty > 0:
            context.penalty = np.zeros(len(hybrid.items), dtype=np.float32)
            for item, count in ignored.items():
                context.penalty[hybrid.item_index[item]] = self.signals.ignored(count)
        context.shown_as = {
            hybrid.item_index[item]: SHOWN_AS.get(kind, "liked")
            for item, (_, kind) in strongest.items()
        }
        if hybrid.cf.can_fold_in:
            context.position = -1  # fold the current history in: new events count at once
        return hybrid.recommend(context, k)
