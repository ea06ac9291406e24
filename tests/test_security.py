"""The attack suite: real ``crossmedia serve`` processes attacked as issue 11 describes, with raw
HTTP (what an attacker sends) and gradio_client (what an honest client sends).

Servers: ``locked`` has logins (alice, bob), a small upload quota and a fast cache sweep;
``proxied`` sits behind a (simulated) reverse proxy that names the user in a header, with an
API key and a low request rate. Per-browser anonymous identity is tested in test_app.py, which
serves without logins."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import speak
from tests.serving import (
    call,
    call_page_handler,
    file_data,
    login,
    page_handler_index,
    served,
    store_rows,
)

API_KEY = "test-key-" + "k" * 24
EVIL_ORIGIN = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def locked(tmp_path_factory, served_library, model_cache):
    workdir = tmp_path_factory.mktemp("locked")
    flags = ("--auth", "alice:alice-pw", "bob:bob-pw", "--upload-limit", "4",
             "--cache-max-age", "4")  # fmt: skip
    with served(workdir, served_library, model_cache, *flags) as server:
        yield server


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, served_library, model_cache):
    workdir = tmp_path_factory.mktemp("proxied")
    flags = ("--trust-user-header", "X-Forwarded-User", "--api-key", API_KEY,
             "--rate-limit", "30")  # fmt: skip
    with served(workdir, served_library, model_cache, *flags) as server:
        yield server


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> tuple[Path, bytes]:
    """A file on the server that nobody may read, with unguessable content."""
    token = secrets.token_hex(16).encode()
    path = tmp_path_factory.mktemp("private") / "secret.txt"
    path.write_bytes(b"password=" + token + b"\n")
    return path, token


def _leaked(uploads: Path, token: bytes) -> list[Path]:
    return [p for p in uploads.rglob("*") if p.is_file() and token in p.read_bytes()]


# -- no file leaves the machine that was not meant to ---------------------------------------


def test_server_paths_are_refused_as_file_arguments_of_every_endpoint(locked, secret_file,
                                                                        tmp_path):  # fmt: skip
    secret, token = secret_file
    client = login(locked.url, "bob", "bob-pw")
    link = tmp_path / "innocent.wav"
    link.symlink_to(secret)
    planted = locked.uploads / "planted"  # a link inside the upload folder itself
    planted.mkdir(exist_ok=True)
    (planted / "inside.png").symlink_to(secret)
    targets = [
        "/etc/passwd",
        str(secret),
        str(locked.home / "interactions.sqlite"),
        str(locked.log),
        f"{locked.uploads}/../../../../../..{secret}",
        str(link),
        str(planted / "inside.png"),
        "%2Fetc%2Fpasswd",
        "file:///etc/passwd",
        "..%2F..%2F..%2Fetc%2Fpasswd",
    ]
    for target in targets:
        planted_as = (["", "s", "hi", None, file_data(target)],
                      ["", "s", "hi", file_data(target), None])  # fmt: skip
        calls = [("chat", d) for d in planted_as] + [("chat_in", [*d, "fr"]) for d in planted_as]
        for endpoint, data in calls:
            event, message = call(client, locked.url, endpoint, data)
            assert event == "error", (target, message)
            assert "enough input values" not in str(message)  # refused for the file it names
            assert "root:" not in str(message) and token.decode() not in str(message)
            assert str(Path.cwd()) not in str(message)  # no server internals either
    # the page's own chat handler (a private event) takes files too
    respond = page_handler_index(client, locked.url, "message")
    for target in (str(secret), "/etc/passwd", str(planted / "inside.png")):
        box = {"text": "what is this?", "files": [file_data(target)]}
        done = call_page_handler(client, locked.url, respond, [box, [], "anon-x", "s", ""])
        assert done["msg"] == "refused" and done["status"] == 400
        assert token.decode() not in json.dumps(done) and "root:x" not in json.dumps(done)
    assert _leaked(locked.uploads, token) == [p for p in _leaked(locked.uploads, token)
                                               if "planted" in p.parts]  # fmt: skip
    for path in ("/etc/passwd", str(secret), str(planted / "inside.png")):
        response = client.get(f"{locked.url}/gradio_api/file={path}")
        assert response.status_code in (403, 404) and token not in response.content


def test_results_carry_item_urls_not_server_paths(locked, served_library):
    client = login(locked.url, "alice", "alice-pw")
    event, (reply,) = call(client, locked.url, "chat", ["", "s", "a frog", None, None])
    assert event == "complete"
    _, (hits,) = call(client, locked.url, "search", ["a banana", 3])
    _, (recommended,) = call(client, locked.url, "recommend", ["", 3])
    everything = json.dumps([reply, hits, recommended])
    assert str(served_library) not in everything and '"uri"' not in everything
    first = reply["citations"][0]
    assert first["url"] == f"/media/{first['item_id']}"
    served = client.get(locked.url + first["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content in {p.read_bytes() for p in served_library.glob("*.png")}
    assert httpx.get(locked.url + first["url"]).status_code == 401  # not signed in
    for probe in ("..%2F..%2Fetc%2Fpasswd", "0" * 32, "../../etc/passwd"):
        assert client.get(f"{locked.url}/media/{probe}").status_code == 404


# -- no user acts as another --------------------------------------------------------------


def test_the_login_is_the_user_of_every_api_call(locked):
    bob = login(locked.url, "bob", "bob-pw")
    _, (frog,) = call(bob, locked.url, "search", ["a frog", 1])
    item = frog[0]["item_id"]
    for name, data in (("feedback", ["alice", item, "like"]), ("recommend", ["alice", 5]),
                       ("chat", ["alice", "s", "a frog", None, None]),
                       ("feedback", ["nobody-at-all", item, "view"])):  # fmt: skip
        event, message = call(bob, locked.url, name, data)
        assert event == "error" and "signed in as 'bob'" in message, (name, message)
    event, recorded = call(bob, locked.url, "feedback", ["", item, "like"])
    assert event == "complete" and recorded[0] == {"user": "bob", "item": item, "kind": "like"}
    users = {user for user, _, _ in store_rows(locked.home)}
    assert users <= {"alice", "bob"} and "nobody-at-all" not in users
    assert ("alice", item, "like") not in store_rows(locked.home)
    anonymous = httpx.post(f"{locked.url}/gradio_api/call/recommend", json={"data": ["", 5]})
    assert anonymous.status_code in (401, 403)


def test_a_proxy_header_names_the_user_and_an_api_key_lets_a_backend_act_for_users(proxied):
    client = httpx.Client(timeout=120)
    event, message = call(client, proxied.url, "recommend", ["", 3])
    assert event == "error" and "X-Forwarded-User" in message  # went around the proxy
    as_dave = {"X-Forwarded-User": "dave"}
    event, (hits,) = call(client, proxied.url, "search", ["a frog", 2], as_dave)
    assert event == "complete" and "frog" in hits[0]["caption"].lower()
    item = hits[0]["item_id"]
    event, recorded = call(client, proxied.url, "feedback", ["", item, "like"], as_dave)
    assert event == "complete" and recorded[0]["user"] == "dave"
    event, message = call(client, proxied.url, "feedback", ["erin", item, "like"], as_dave)
    assert event == "error" and "signed in as 'dave'" in message
    backend = {"X-API-Key": API_KEY}  # the site's own backend, acting for its users
    event, recorded = call(client, proxied.url, "feedback", ["carol", item, "like"], backend)
    assert event == "complete" and recorded[0]["user"] == "carol"
    wrong = {**as_dave, "Authorization": "Bearer not-the-key"}
    event, message = call(client, proxied.url, "recommend", ["", 3], wrong)
    assert event == "error" and "valid key" in message
    assert {u for u, _, _ in store_rows(proxied.home)} <= {"dave", "carol"}


# -- limits a public deployment needs -------------------------------------------------------


def test_other_origins_cannot_call_with_a_visitors_cookie(locked):
    bob = login(locked.url, "bob", "bob-pw")
    evil = {"Origin": EVIL_ORIGIN}
    refused = bob.post(f"{locked.url}/gradio_api/call/recommend", json={"data": ["", 5]},
                       headers=evil)  # fmt: skip
    assert refused.status_code == 403 and "--allow-origin" in refused.json()["detail"]
    preflight = bob.options(
        f"{locked.url}/gradio_api/call/recommend",
        headers={**evil, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert bob.get(f"{locked.url}/config", headers=evil).status_code == 403
    same = bob.post(f"{locked.url}/gradio_api/call/recommend", json={"data": ["", 5]},
                    headers={"Origin": locked.url})  # fmt: skip
    assert same.status_code == 200


def test_requests_past_the_rate_are_refused_for_that_client_only(proxied):
    client = httpx.Client(timeout=60)
    flooder = {"X-Forwarded-User": "flooder", "X-API-Key": API_KEY}
    statuses = [
        client.post(f"{proxied.url}/gradio_api/call/search", json={"data": ["a frog", 1]},
                    headers=flooder).status_code
        for _ in range(40)
    ]  # fmt: skip
    assert statuses[:30] == [200] * 30 and set(statuses[30:]) == {429}
    limited = client.post(f"{proxied.url}/gradio_api/call/search", json={"data": ["x", 1]},
                          headers=flooder)  # fmt: skip
    assert int(limited.headers["retry-after"]) > 0 and "too many requests" in limited.text
    calm = {"X-Forwarded-User": "calm", "X-API-Key": API_KEY}
    event, _ = call(client, proxied.url, "search", ["a frog", 1], calm)
    assert event == "complete"


def _upload(client: httpx.Client, url: str, path: Path) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post(f"{url}/gradio_api/upload", files={"files": (path.name, handle)})


def test_user_errors_read_as_one_sentence_and_leave_no_traceback(locked, tmp_path):
    client = login(locked.url, "alice", "alice-pw")
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a recording\n" * 20)
    uploaded = _upload(client, locked.url, notes)
    assert uploaded.status_code == 200
    (path,) = uploaded.json()
    event, message = call(client, locked.url, "chat", ["", "s", "", None, file_data(path)])
    assert event == "error" and "notes.txt" in message and "readable audio" in message
    assert str(locked.uploads) not in message and "Errno" not in message
    assert "/" not in message.replace("notes.txt", "")
    event, message = call(client, locked.url, "feedback", ["", "no-such-item", "like"])
    assert event == "error" and "unknown item" in message.lower()
    event, message = call(client, locked.url, "chat", ["", "s", "   ", None, None])
    assert event == "error" and "empty" in message
    time.sleep(1)
    log = locked.log_text()
    assert "Traceback" not in log and "refused" in log


def test_uploaded_files_are_swept_from_the_cache(locked, tmp_path):
    client = login(locked.url, "alice", "alice-pw")
    clip = speak("hello", tmp_path / "hello.wav")
    (path,) = _upload(client, locked.url, clip).json()
    assert Path(path).is_file() and Path(path).is_relative_to(locked.uploads)
    deadline = time.monotonic() + 30
    while Path(path).exists() and time.monotonic() < deadline:
        time.sleep(1)
    assert not Path(path).exists()  # deleted once older than --cache-max-age (4 s)


def test_uploads_past_the_quota_are_refused(locked, tmp_path):
    """Runs last on this server: it uses up bob's upload quota (4 in 10 minutes)."""
    client = login(locked.url, "bob", "bob-pw")
    picture = tmp_path / "dot.png"
    picture.write_bytes((Path(__file__).parent / "conftest.py").read_bytes())
    statuses = [_upload(client, locked.url, picture).status_code for _ in range(6)]
    assert 429 in statuses and statuses.count(200) <= 4
    refused = _upload(client, locked.url, picture)
    assert refused.status_code == 429 and "too many uploads" in refused.json()["detail"]
    chunked = client.post(f"{locked.url}/gradio_api/upload", content=iter([b"x" * 10]),
                          headers={"content-type": "multipart/form-data; boundary=x"})  # fmt: skip
    assert chunked.status_code in (411, 429)


def test_unexpected_errors_get_a_reference_and_a_logged_traceback(caplog):
    import logging

    from ui.security.messages import as_gradio_error

    with caplog.at_level(logging.ERROR, logger="crossmedia.requests"):
        error = as_gradio_error(KeyError("internal detail /srv/secret/path"), "/chat")
    assert "reference" in error.message and "/srv/secret" not in error.message
    reference = error.message.split("reference ")[1].split(")")[0]
    record = next(r for r in caplog.records if reference in r.getMessage())
    assert record.exc_info is not None  # the traceback is in the log, under that reference


def test_a_100_kb_message_is_answered_or_refused_plainly(locked):
    client = login(locked.url, "alice", "alice-pw")
    long_text = "Is there a frog? " * 6000  # about 100 kB
    event, payload = call(client, locked.url, "search", [long_text, 3])
    assert event == "complete" and payload[0]
    event, message = call(client, locked.url, "chat", ["", "s", long_text, None, None])
    assert event == "error" and "keep it under 2,000" in message  # refused before the LLM runs


def test_a_login_expires_and_each_new_login_deletes_expired_ones(tmp_path):
    """Login tokens live in the database the replicas share: an old one no longer signs anyone
    in, and the table does not keep every token ever issued."""
    import sqlalchemy as sa

    from ui.security.logins import SharedLogins, tokens_table

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'logins.sqlite'}")
    logins = SharedLogins(engine, days=0.5 / 86_400)  # half a second
    logins["old-token"] = "alice"
    assert logins["old-token"] == "alice" and len(logins) == 1
    time.sleep(0.6)
    with pytest.raises(KeyError):
        logins["old-token"]  # expired: sign in again
    logins["new-token"] = "bob"
    with engine.connect() as connection:
        stored = connection.execute(sa.select(tokens_table.c.token)).scalars().all()
    assert stored == ["new-token"]
    del logins["new-token"]
    assert len(logins) == 0
