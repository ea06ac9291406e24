"""Two real ``crossmedia serve`` processes behind one address, as a load balancer would spread
them: one PostgreSQL database and one Chroma server, each replica with its own data directory.
A conversation's turns alternate between them and every turn sees the others; a like recorded
on one counts in the other's recommendations at once; a login made on one is valid on the other;
one secret keeps browsers' ids valid."""

from __future__ import annotations

from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.serving import call, chroma_served, free_port, login, served

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, served_library, model_cache, postgres):
    """(replica A, replica B, database URL): A ingests the library into the Chroma server."""
    workdir = tmp_path_factory.mktemp("replicas")
    database = postgres.create_database()
    with ExitStack() as stack:
        chroma = stack.enter_context(chroma_served(workdir)).url
        shared = ("--chroma-url", chroma, "--database-url", database, "--rate-limit", "0",
                  "--auth", f"walker:{PASSWORD}", f"liker:{PASSWORD}")  # fmt: skip
        first = stack.enter_context(served(workdir / "a", served_library, model_cache, *shared))
        second = stack.enter_context(served(workdir / "b", served_library, model_cache, *shared))
        yield first, second, database


def _chat(client: httpx.Client, url: str, user: str, session: str, text: str) -> dict:
    status, reply = call(client, url, "chat", [user, session, text, None, None])
    assert status == "complete", reply
    return reply[0]


def test_a_conversation_alternating_between_replicas_refers_to_every_turn(replicas):
    first, second, database = replicas
    with closing(login(first.url, "walker", PASSWORD)) as client:  # signed in on A; sent to B
        client.timeout = httpx.Timeout(300)
        asked = _chat(client, first.url, "walker", "trip", "Show me a badger")
        follow = _chat(client, second.url, "walker", "trip", "more like the second one")
        assert follow["query_kind"] == "follow_up"
        assert follow["search_text"] == asked["results"][1]["item_id"]
        back = _chat(client, first.url, "walker", "trip", "more like the first one")
        assert back["query_kind"] == "follow_up"  # about B's results, which A never saw
        assert back["search_text"] == follow["results"][0]["item_id"]
    with sa.create_engine(database).connect() as connection:
        questions = connection.execute(
            sa.text(
                "select t.question from conversation_turns t join conversations c "
                "on c.id = t.conversation_id where c.user = 'walker' order by t.id"
            )
        ).scalars()
        assert list(questions) == [
            "Show me a badger",
            "more like the second one",
            "more like the first one",
        ]


def test_a_like_on_one_replica_counts_on_the_other_at_once(replicas):
    first, second, _ = replicas
    with closing(login(second.url, "liker", PASSWORD)) as client:
        client.timeout = httpx.Timeout(300)
        status, before = call(client, second.url, "recommend", ["liker", 5])
        assert status == "complete", before
        top = before[0][0]["item_id"]
        status, _ = call(client, first.url, "feedback", ["liker", top, "like"])
        assert status == "complete"
        status, after = call(client, second.url, "recommend", ["liker", 5])
        assert status == "complete", after
    shown = [s["item_id"] for s in after[0]]
    assert top not in shown  # a liked item is never recommended again: B read A's like
    assert shown != [s["item_id"] for s in before[0]]


def test_a_login_on_one_replica_counts_on_the_other_until_signed_out(replicas):
    first, second, _ = replicas
    with httpx.Client(timeout=60) as stranger:
        status, _ = call(stranger, second.url, "recommend", ["", 3])
        assert status == "refused"  # no login, no answer
    client = login(first.url, "liker", PASSWORD)
    status, _ = call(client, second.url, "recommend", ["", 3])
    assert status == "complete"
    client.get(second.url + "/logout")  # signed out on B: the login is gone on A as well
    status, _ = call(client, first.url, "recommend", ["", 3])
    assert status == "refused"
    client.close()


def test_both_replicas_share_one_secret(replicas):
    first, second, database = replicas
    with sa.create_engine(database).connect() as connection:
        (secret,) = connection.execute(sa.text("select value from server_secrets")).scalars()
    assert secret == (first.home / "server-secret").read_text().strip()
    assert not (second.home / "server-secret").exists()  # B took the database's


def _database_finding(url: str):
    from ui.doctor import checks

    (check,) = [c for c in checks(Path("/tmp"), None, url) if c.name == "database"]
    return check()


def test_doctor_says_whether_the_database_answers(postgres):
    found = _database_finding(postgres.url().replace("@", ":s3cret@"))
    assert found.status == "ok" and "s3cret" not in found.detail
    found = _database_finding(f"postgresql+psycopg://nobody:s3cret@127.0.0.1:{free_port()}/none")
    assert found.status == "fail" and "cannot connect" in found.detail
    assert "s3cret" not in found.detail
