import time

import numpy as np
import pytest

from recsys.errors import UnknownItemError
from recsys.service import COUNT_EVERY_S, RecommendationService
from recsys.store import InteractionStore
from tests.test_recsys_models import CLUSTER, content_vectors

CATALOGUE = CLUSTER["a"] + CLUSTER["b"] + ["a-new", "b-new"]


def liked_store(tmp_path, url: str | None = None) -> InteractionStore:
    store = InteractionStore(url) if url else InteractionStore.in_data_dir(tmp_path)
    rng = np.random.default_rng(0)
    for taste, items in CLUSTER.items():
        for n in range(10):
            for item in rng.choice(items, size=4, replace=False):
                store.log(f"{taste}-{n}", str(item), "like", timestamp=n)
    return store


@pytest.fixture
def service(tmp_path):
    return RecommendationService(
        liked_store(tmp_path), CATALOGUE, content_vectors(CATALOGUE), refit_after=5
    )


def test_the_two_tower_model_serves_after_a_background_fit_and_likes_steer_it(tmp_path):
    service = RecommendationService(
        liked_store(tmp_path), CATALOGUE, content_vectors(CATALOGUE), model="twotower"
    )
    assert service.hybrid.cf.name == "als"  # serves at once, while the two-tower model fits
    service.wait_for_refit(timeout=120)
    assert service.hybrid.cf.name == "twotower"
    fitted = service.hybrid
    service.feedback("newcomer", "b0", "like")
    service.feedback("newcomer", "b2", "like")
    recs = service.recommend("newcomer", k=3)
    assert service.hybrid is fitted  # folded in through the history tower, no refit
    assert all(r.item.startswith("b") for r in recs), [r.item for r in recs]


def test_feedback_counts_at_once_without_a_refit(service):
    for r in service.recommend("newcomer", k=2):  # the count is the item's real likers
        likers = {e.user for e in service.store.events() if e.item == r.item and e.kind == "like"}
        assert r.because == f"popular: {len(likers)} people liked it"
    fitted = service.hybrid
    service.feedback("newcomer", "b0", "like")
    service.feedback("newcomer", "b1", "click")
    recs = service.recommend("newcomer", k=3)
    assert service.hybrid is fitted  # no refit yet: folded in
    assert all(r.item.startswith("b") for r in recs)
    assert {"b0", "b1"}.isdisjoint(r.item for r in recs)  # seen items are not recommended
    assert recs[0].similar_to in {"b0", "b1"}


def test_dislikes_are_never_recommended(service):
    service.feedback("c", "a0", "like")
    top = service.recommend("c", k=1)[0].item
    service.feedback("c", top, "dislike")
    assert top not in [r.item for r in service.recommend("c", k=8)]


def test_session_vector_steers_a_new_user(service):
    recs = service.recommend("someone", k=3, session=np.array([1.0, 0, 0, 0]))
    assert all(r.item.startswith("a") and r.from_session for r in recs)


def test_background_refit_after_enough_events(service):
    before = service.hybrid
    for item in ("a1", "a2", "a3", "a4", "a5"):
        service.feedback("late", item, "like")
    service.wait_for_refit(timeout=60)
    assert service.hybrid is not before
    assert "late" in service.hybrid.cf.users


def test_unknown_item_feedback_is_refused_and_not_stored(service):
    count = service.store.count()
    with pytest.raises(UnknownItemError, match="catalogue"):
        service.feedback("u", "not-an-item", "like")
    assert service.store.count() == count


def test_feedback_during_a_running_refit_is_fitted_right_after_it(tmp_path):
    """A refit asked for while one runs is not dropped: its events reach the next model."""
    service = RecommendationService(
        liked_store(tmp_path),
        CATALOGUE,
        content_vectors(CATALOGUE),
        model="twotower",
        refit_after=2,
    )
    assert service._refit_thread is not None and service._refit_thread.is_alive()
    deadline = time.monotonic() + 60
    while service._fitting_upto is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the running fit has read its events: the latecomer's come after
    assert service._refit_thread.is_alive(), "the first refit ended too soon to test this"
    service.feedback("latecomer", "a1", "like")
    service.feedback("latecomer", "a2", "like")  # asks for a refit while the first one runs
    service.wait_for_refit(timeout=240)
    assert "latecomer" in service.hybrid.cf.users


def test_events_another_process_recorded_count_at_once_and_towards_a_refit(tmp_path, database_url):
    """Two app processes over one database (two services, two stores): a like recorded through
    one shows in the other's next recommendations at once, and the other refits after enough
    events recorded elsewhere, although it recorded none of them itself."""
    liked_store(tmp_path, database_url)
    here, there = (
        RecommendationService(
            InteractionStore(database_url), CATALOGUE, content_vectors(CATALOGUE), refit_after=5
        )
        for _ in range(2)
    )
    fitted = here.hybrid
    there.feedback("traveller", "b0", "like")
    recs = here.recommend("traveller", k=3)
    assert "b0" not in {r.item for r in recs} and all(r.item.startswith("b") for r in recs)
    assert here.hybrid is fitted  # folded in from the database, no refit yet
    for item in ("b1", "b2", "b3", "b4"):
        there.feedback("traveller", item, "like")
    there.wait_for_refit(timeout=60)
    time.sleep(COUNT_EVERY_S)  # recommend counts the database's new events once a second
    here.recommend("traveller", k=3)  # sees 5 new events in the database: refits
    here.wait_for_refit(timeout=60)
    assert here.hybrid is not fitted and "traveller" in here.hybrid.cf.users
