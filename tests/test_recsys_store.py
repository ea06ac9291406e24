import multiprocessing

import pytest

from recsys.errors import InvalidEventError, StoreError, UnknownUserError
from recsys.events import Event, EventKind
from recsys.store import STORE_FILENAME, InteractionStore


def test_round_trip_and_id_mapping(tmp_path):
    store = InteractionStore.in_data_dir(tmp_path)
    assert (tmp_path / STORE_FILENAME).is_file()
    store.log("alice", "film-1", "like", timestamp=10)
    store.log("bob", "film-1", "rating", 5, timestamp=11)
    store.log("alice", "film-2", "view", timestamp=12)
    store.log("alice", "film-3", "dislike", timestamp=13)
    assert store.users() == ["alice", "bob"] and store.items() == ["film-1", "film-2", "film-3"]
    assert store.count() == 4
    alice = store.events("alice")
    assert [(e.item, e.kind) for e in alice] == [
        ("film-1", EventKind.LIKE),
        ("film-2", EventKind.VIEW),
        ("film-3", EventKind.DISLIKE),
    ]
    assert [e.item for e in store.events(since=11)] == ["film-2", "film-3"]
    data = store.user_items()
    assert data.shape == (2, 3)
    assert data.matrix[data.user_index["alice"], data.item_index["film-1"]] == 8.0  # like
    assert data.matrix[data.user_index["bob"], data.item_index["film-1"]] == 2.0  # 5-star: 5 - 3
    assert data.matrix[data.user_index["alice"], data.item_index["film-3"]] == 0.0  # dislike
    reopened = InteractionStore(tmp_path / STORE_FILENAME)
    assert reopened.count() == 4 and reopened.users() == ["alice", "bob"]


def test_sqlalchemy_url_works_too(tmp_path):
    store = InteractionStore(f"sqlite:///{tmp_path / 'other.db'}")
    store.record([Event.create("u", "i", "click", timestamp=1)])
    assert store.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("u", "i", "purchase"), "unknown event kind"),
        (("", "i", "like"), "user id is empty"),
        ((None, "i", "like"), "user id is missing"),
        (("u", " ", "like"), "item id is empty"),
        (("u", "i", "rating", "five"), "must be a number"),
        (("u", "i", "rating", 11), "between 0 and 10"),
        (("u", "i", "like", 1, float("nan")), "finite"),
        (("u", "x" * 600, "like"), "longer than"),
    ],
)
def test_malformed_events_are_refused_and_nothing_is_written(tmp_path, fields, message):
    store = InteractionStore.in_data_dir(tmp_path)
    with pytest.raises(InvalidEventError, match=message):
        store.log(*fields)
    assert store.count() == 0


def test_unknown_user_is_a_clear_error(tmp_path):
    store = InteractionStore.in_data_dir(tmp_path)
    with pytest.raises(UnknownUserError, match="nobody"):
        store.events("nobody")


def test_unopenable_store_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        InteractionStore(tmp_path / "file" / "sub" / "db.sqlite")


def _log_many(path: str, writer: int) -> None:
    store = InteractionStore(path)
    for batch in range(20):
        store.record(
            Event.create(f"shared-user-{n % 3}", f"item-{writer}-{batch}-{n}", "click", timestamp=n)
            for n in range(10)
        )


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    InteractionStore(path)  # create the schema first, as the app does at start
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_log_many, args=(path, w)) for w in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]
    store = InteractionStore(path)
    assert store.count() == 400
    assert sorted(store.users()) == ["shared-user-0", "shared-user-1", "shared-user-2"]
    assert len(store.items()) == 400
