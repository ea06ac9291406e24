"""The interaction store, each test on SQLite and on a real PostgreSQL server."""

import pytest

from recsys.errors import InvalidEventError, StoreError, UnknownUserError
from recsys.events import MAX_ID_LENGTH, Event, EventKind
from recsys.store import STORE_FILENAME, InteractionStore
from tests.processes import run_at_once


def test_round_trip_and_id_mapping(database_url):
    store = InteractionStore(database_url)
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
    reopened = InteractionStore(database_url)
    assert reopened.count() == 4 and reopened.users() == ["alice", "bob"]
    newest = reopened.newest_id()
    assert reopened.count(after=newest) == 0
    store.log("carol", "film-2", "view", timestamp=14)
    store.log("carol", "film-2", "like", timestamp=15)
    assert reopened.count(after=newest) == 2
    assert reopened.count(after=newest, without=[EventKind.VIEW]) == 1
    assert reopened.newest_id() > newest


def test_the_default_store_is_a_file_in_the_data_directory(tmp_path):
    store = InteractionStore.in_data_dir(tmp_path)
    store.record([Event.create("u", "i", "click", timestamp=1)])
    assert (tmp_path / STORE_FILENAME).is_file()
    assert InteractionStore(f"sqlite:///{tmp_path / STORE_FILENAME}").count() == 1


def test_longest_and_non_ascii_ids_fit_every_database(database_url):
    """PostgreSQL enforces the columns' lengths (SQLite does not): the longest id allowed fits,
    counted in characters, not bytes."""
    store = InteractionStore(database_url)
    longest, accented = "é" * MAX_ID_LENGTH, "ユーザー ✓"
    store.log(longest, accented, "like", timestamp=1)
    assert store.users() == [longest] and store.items() == [accented]


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
def test_malformed_events_are_refused_and_nothing_is_written(database_url, fields, message):
    store = InteractionStore(database_url)
    with pytest.raises(InvalidEventError, match=message):
        store.log(*fields)
    assert store.count() == 0


def test_unknown_user_is_a_clear_error(database_url):
    store = InteractionStore(database_url)
    with pytest.raises(UnknownUserError, match="nobody"):
        store.events("nobody")


def test_unopenable_store_is_a_store_error(tmp_path, postgres):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        InteractionStore(tmp_path / "file" / "sub" / "db.sqlite")
    with pytest.raises(StoreError, match="cannot open") as refused:  # no such database
        InteractionStore(postgres.url("no_such_database").replace("@", ":s3cret-pw@"))
    assert "s3cret-pw" not in str(refused.value) and "***" in str(refused.value)


def _log_many(path: str, writer: int, start) -> None:
    store = InteractionStore(path)
    start.wait(timeout=60)
    for batch in range(20):
        user = f"user-{batch}-"  # new in every batch, for both writers at once
        store.record(
            Event.create(user + str(n % 3), f"item-{writer}-{batch}-{n}", "click", timestamp=n)
            for n in range(10)
        )


def test_two_processes_writing_at_once_lose_nothing(database_url):
    """Both see the same new users at once, batch after batch: on PostgreSQL, where writers do
    not queue for one lock, each user is still added once and no event is lost."""
    InteractionStore(database_url)  # create the schema first, as the app does at start
    run_at_once(_log_many, database_url)
    store = InteractionStore(database_url)
    assert store.count() == 400
    assert len(store.users()) == 60 and len(set(store.users())) == 60
    assert len(store.items()) == 400
