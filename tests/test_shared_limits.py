"""Rate limits and upload quotas that several replicas apply together: the real middleware in
front of two apps ("replicas"), each with its own connection to one real database (an SQLite
file, then PostgreSQL), and a client whose requests alternate between them."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from recsys.store import InteractionStore
from ui.security.middleware import ClientLimits
from ui.security.settings import SecuritySettings
from ui.security.usage import MemoryUsage, SharedUsage


async def _stored_one_file(scope, receive, send) -> None:
    """An app that answers every request as Gradio answers an upload of one file."""
    body = json.dumps(["/tmp/gradio/upload/a.png"]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _replicas(database_url: str, settings: SecuritySettings, clock: Clock) -> list[TestClient]:
    """Two replicas: separate engines (as two processes have) over one database."""
    return [
        TestClient(
            ClientLimits(
                _stored_one_file,
                settings,
                usage=SharedUsage(InteractionStore(database_url).engine),
                clock=clock,
            )
        )
        for _ in range(2)
    ]


def _post(replica: TestClient, user: str, path: str = "/gradio_api/queue/join", **kwargs):
    return replica.post(path, headers={"X-User": user}, **kwargs)


def test_two_replicas_apply_one_request_rate_to_a_client(database_url):
    clock = Clock()
    settings = SecuritySettings(requests_per_minute=10, trusted_user_header="X-User")
    replicas = _replicas(database_url, settings, clock)
    statuses = [_post(replicas[turn % 2], "flooder").status_code for turn in range(14)]
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
    refused = _post(replicas[1], "flooder")
    assert "too many requests" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 61
    assert _post(replicas[1], "calm").status_code == 200  # other clients are not limited
    clock.now += 61  # the window has slid past every counted request
    assert _post(replicas[0], "flooder").status_code == 200


def test_two_replicas_apply_one_upload_quota(database_url):
    clock = Clock()
    settings = SecuritySettings(
        requests_per_minute=0,
        uploads_per_window=3,
        upload_bytes_per_window=10_000,
        trusted_user_header="X-User",
    )
    replicas = _replicas(database_url, settings, clock)
    upload = "/gradio_api/upload"
    statuses = [
        _post(replicas[turn % 2], "bob", upload, content=b"x" * 100).status_code
        for turn in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    too_big = _post(replicas[1], "carol", upload, content=b"x" * 10_001)
    assert too_big.status_code == 429 and "quota" in too_big.json()["detail"]


def test_one_process_alone_counts_in_memory():
    """Without a database (the default of a bare ClientLimits) the same limits hold."""
    clock = Clock()
    settings = SecuritySettings(requests_per_minute=3, trusted_user_header="X-User")
    replica = TestClient(ClientLimits(_stored_one_file, settings, usage=MemoryUsage(), clock=clock))
    assert [_post(replica, "a").status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.now += 61
    assert _post(replica, "a").status_code == 200


def test_expired_counts_are_deleted_from_the_shared_table(tmp_path):
    import sqlalchemy as sa

    from ui.security.usage import usage_table

    clock = Clock()
    engine = InteractionStore(f"sqlite:///{tmp_path / 'db.sqlite'}").engine
    usage = SharedUsage(engine)
    for user in ("a", "b", "c"):
        usage.add("requests user:" + user, clock.now)
    clock.now += 3600
    usage.add("requests user:d", clock.now)
    usage.forget_before(clock.now - 600)
    with engine.connect() as connection:
        keys = connection.execute(sa.select(usage_table.c.key)).scalars().all()
    assert keys == ["requests user:d"]
    assert usage.total("requests user:d", clock.now - 60) == 1.0


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_a_window_counts_what_came_after_its_start_to_the_second(tmp_path, seconds):
    clock = Clock(1_800_000_000.0 + seconds)
    usage = SharedUsage(InteractionStore(f"sqlite:///{tmp_path / 'db.sqlite'}").engine)
    usage.add("k", clock.now, 2.0)
    usage.add("k", clock.now + 1, 3.0)
    assert usage.total("k", clock.now - 60) == 5.0
    assert usage.total("k", clock.now + 0.999) in (3.0, 5.0)  # a bucket is one second
    assert usage.total("k", clock.now + 2.0) == 0.0
    assert usage.oldest("k", clock.now - 60) == int(clock.now)
