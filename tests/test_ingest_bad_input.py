"""Bad input never stops an ingest: every refused file or row is in the summary with its reason,
and counts stay true when two ingests run at once. Runs the real ``crossmedia`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from retrieval.discovery import MAX_CSV_FIELD, MAX_TEXT_CHARS
from tests.conftest import draw_picture

FAST = ("--encoder", "random:16")


def _refusals(report: dict) -> dict[str, str]:
    return {Path(r["source"]).name: r["reason"] for r in report["refused"]}


def test_a_folder_with_unreadable_entries_is_ingested_and_each_one_reported(tmp_path, run):
    folder = tmp_path / "photos"
    folder.mkdir()
    draw_picture(folder / "good.png")
    draw_picture(Path(os.fsdecode(bytes(folder) + b"/caf\xe9.png")), colour="blue")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "gone.png").symlink_to(folder / "nowhere.png")
    os.mkfifo(folder / "pipe.png")
    (folder / "album.png").mkdir()  # a folder with an image suffix

    result = run("ingest", str(folder), "--json", *FAST)
    report = json.loads(result.stdout)
    assert report["added"] == 1
    reasons = _refusals(report)
    assert "not valid UTF-8" in reasons["caf\\xe9.png"]
    assert "loops" in reasons["loop.png"]
    assert "not a regular file" in reasons["zero.png"]
    assert "points to nothing" in reasons["gone.png"]
    assert "not a regular file" in reasons["pipe.png"]
    assert "album.png" not in reasons  # a folder is walked into, not refused

    text = run("ingest", str(folder), *FAST)  # the plain summary prints the odd name too
    assert "refused 5" in text.stdout and "caf\\xe9.png" in text.stdout
    assert "Traceback" not in text.stderr


def test_manifest_rows_are_refused_one_by_one_with_reasons(tmp_path, run):
    draw_picture(tmp_path / "ball.png")
    (tmp_path / "a-folder").mkdir()
    rows = [
        {"image": "ball.png", "caption": "A red ball."},
        {"image": "a-folder", "caption": "not a file"},
        {"image": "ball.png", "caption": "x", "modality": "video"},
        {"text": "some words", "item": "7"},
        {"text": "w" * (MAX_TEXT_CHARS + 1)},
        {"text": "Frogs live near ponds and eat insects.", "caption": "About frogs"},
    ]
    lines = [json.dumps(r).encode() for r in rows]
    lines.insert(3, b'{"text": "caf\xe9 au lait"}')  # Latin-1, not UTF-8
    (tmp_path / "m.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    report = json.loads(run("ingest", str(tmp_path / "m.jsonl"), "--json", *FAST).stdout)
    assert report["added"] == 2
    reasons = {r["source"].rsplit(":", 1)[-1]: r["reason"] for r in report["refused"]}
    assert "a folder" in next(r for s, r in reasons.items() if "a-folder" in s)
    assert "'modality' is reserved" in reasons["3"]
    assert "not valid UTF-8" in reasons["4"]
    assert "'item' is reserved" in reasons["5"]
    assert f"over the {MAX_TEXT_CHARS:,} limit" in reasons["6"]
    assert len(report["refused"]) == 5

    found = json.loads(run("search", "About frogs", "--json", "-k", "3", *FAST).stdout)
    hit = next(h for h in found["results"] if h["modality"] == "text")
    assert hit["caption"] == "About frogs"  # the caption is kept, the text beside it
    assert hit["metadata"]["text"] == "Frogs live near ponds and eat insects."


def test_a_csv_with_a_byte_order_mark_and_oversized_fields(tmp_path, run):
    draw_picture(tmp_path / "ball.png")
    draw_picture(tmp_path / "sun.png", colour="yellow")
    huge = "x" * (MAX_CSV_FIELD + 10)
    body = (
        "image,caption,notes\r\n"
        "ball.png,A red ball.,fine\r\n"
        f"ball.png,Another ball.,{huge}\r\n"
        f"ball.png,{'c' * 3000},long caption\r\n"
        "sun.png,A yellow sun.,fine\r\n"
    )
    (tmp_path / "m.csv").write_bytes(b"\xef\xbb\xbf" + body.encode())  # saved by a spreadsheet

    report = json.loads(run("ingest", str(tmp_path / "m.csv"), "--json", *FAST).stdout)
    assert report["added"] == 2  # the BOM is read as UTF-8: the 'image' column is found
    reasons = [r["reason"] for r in report["refused"]]
    assert len(reasons) == 2
    assert any("field larger than field limit" in r for r in reasons)
    assert any("caption is 3,000 characters" in r for r in reasons)


def test_search_asks_for_a_positive_count(tmp_path, run):
    for bad in ("0", "-1", "many"):
        result = run("search", "a frog", "-k", bad, *FAST, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "-k" in result.stderr


def test_two_ingests_at_once_count_each_item_once(tmp_path, model_cache):
    rows = [{"text": f"note number {n} about item {n * 7}"} for n in range(300)]
    manifest = tmp_path / "notes.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "CROSSMEDIA_HOME": str(tmp_path / "home"),
           "CROSSMEDIA_CACHE_DIR": str(model_cache)}  # fmt: skip
    command = [sys.executable, "-m", "ui.cli", "ingest", str(manifest), "--json",
               "--batch-size", "16", *FAST]  # fmt: skip
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]
        reports.append(json.loads(out))
    assert sum(r["added"] for r in reports) == 300
    assert all(r["added"] + r["duplicates"] == 300 for r in reports)


def _fast_index(home: Path):
    from retrieval.encoders import load_encoder
    from retrieval.index import MediaIndex

    encoder = load_encoder("random:16")
    return MediaIndex(home / "index", encoder_name=encoder.name, dim=encoder.dim)


def test_a_20000_line_manifest_half_bad_is_ingested_whole(tmp_path, run):
    lines = []
    for n in range(10_000):
        lines.append(json.dumps({"text": f"good note {n}", "n": n}))
        lines.append("{broken json" if n % 2 else json.dumps({"caption": "no media column"}))
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n")
    report = json.loads(run("ingest", str(tmp_path / "big.jsonl"), "--json", *FAST).stdout)
    assert report["added"] == 10_000 and len(report["refused"]) == 10_000
    assert _fast_index(tmp_path / "home").count() == 10_000


def test_an_ingest_killed_mid_way_loses_nothing_committed_and_resumes(tmp_path, model_cache):
    import signal
    import time

    manifest = tmp_path / "notes.jsonl"
    manifest.write_text("".join(json.dumps({"text": f"note {n}"}) + "\n" for n in range(4000)))
    env = {**os.environ, "CROSSMEDIA_HOME": str(tmp_path / "home"),
           "CROSSMEDIA_CACHE_DIR": str(model_cache)}  # fmt: skip
    command = [sys.executable, "-m", "ui.cli", "ingest", str(manifest), "--json",
               "--batch-size", "50", *FAST]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = tmp_path / "home" / "index" / "chroma.sqlite3"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if database.exists() and database.stat().st_size > 2_000_000:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    kept = _fast_index(tmp_path / "home").count()
    resumed = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    report = json.loads(resumed.stdout)
    assert report["duplicates"] == kept and report["added"] == 4000 - kept
    assert _fast_index(tmp_path / "home").count() == 4000
