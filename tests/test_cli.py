"""The crossmedia command as a user runs it: real processes, real models, real Chroma."""

import json
import shutil

import pytest

from retrieval.datasets.tuxpaint import captioned_stamps

PICKS = ("frog", "guitar", "banana")


@pytest.fixture(scope="module")
def stamps_folder(tmp_path_factory, stamps_root):
    root = tmp_path_factory.mktemp("stamps")
    stamps = captioned_stamps(stamps_root)
    for keyword in PICKS:
        path = next(p for p, c in stamps if keyword in c.lower() and p.suffix == ".png")
        shutil.copy(path, root / f"{keyword}.png")
        shutil.copy(path.with_suffix(".txt"), root / f"{keyword}.txt")
    return root


def test_ingest_then_search_by_text_and_image(run, stamps_folder):
    summary = json.loads(run("ingest", str(stamps_folder), "--json").stdout)
    assert summary == {"added": 3, "duplicates": 0, "refused": []}
    out = json.loads(run("search", "a frog", "-k", "3", "--json").stdout)
    assert out["query"]["text"] == "a frog"
    assert len(out["results"]) == 3
    top = out["results"][0]
    assert "frog" in top["caption"].lower() and top["uri"].endswith("frog.png")
    assert set(top) >= {"item_id", "score", "caption", "uri", "modality"}
    by_image = json.loads(
        run(
            "search", "--image", str(stamps_folder / "guitar.png"), "--match", "content", "--json"
        ).stdout
    )
    assert by_image["results"][0]["uri"].endswith("guitar.png")
    assert by_image["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    human = run("search", "a banana").stdout
    assert "banana" in human.splitlines()[0].lower()
    # in French, matched word for word with the stamps' French captions (their sidecars)
    french = json.loads(run("search", "guitare", "--language", "fr", "--json").stdout)
    plain = json.loads(run("search", "guitare", "--json").stdout)
    assert french["results"][0]["uri"].endswith("guitar.png")
    assert french["results"][0]["score"] > plain["results"][0]["score"]


def test_data_dirs_never_mix(run, tmp_path):
    manifest = tmp_path / "docs.jsonl"
    manifest.write_text(json.dumps({"text": "only in library A"}) + "\n")
    run("ingest", str(manifest), "--encoder", "random:16", "--data-dir", str(tmp_path / "a"))

    def search_in(library: str) -> list[dict]:
        args = ["search", "only in library A", "--encoder", "random:16", "--data-dir", library]
        return json.loads(run(*args, "--json").stdout)["results"]

    in_a, in_b = search_in(str(tmp_path / "a")), search_in(str(tmp_path / "b"))
    assert in_a[0]["caption"] == "only in library A"
    assert in_b == []
    assert (tmp_path / "a" / "index").is_dir() and not (tmp_path / "home").exists()


def test_eval_retrieval_on_a_pairs_file(run, stamps_folder, tmp_path):
    lines = [
        {"image": str(stamps_folder / f"{k}.png"), "caption": f"a picture of a {k}"} for k in PICKS
    ]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    result = json.loads(
        run("eval", "retrieval", "--pairs", str(tmp_path / "pairs.jsonl"), "--json").stdout
    )
    assert result["n_images"] == 3 and result["n_captions"] == 3
    for direction in ("text_to_image", "image_to_text"):
        assert set(result[direction]) == {"R@1", "R@5", "R@10", "median_rank", "mean_rank"}
        assert result[direction]["R@5"] == 100.0  # only three candidates
    assert result["text_to_image"]["R@1"] >= 66.0 and result["protocol"] == "merged"
    per_pair = json.loads(
        run("eval", "retrieval", "--pairs", str(tmp_path / "pairs.jsonl"), "--json",
            "--protocol", "clip_benchmark").stdout
    )  # fmt: skip
    assert per_pair["protocol"] == "clip_benchmark" and per_pair["n_captions"] == 3
    assert per_pair["text_to_image"]["R@1"] <= result["text_to_image"]["R@1"]


def test_user_errors_exit_2_with_a_message(run, tmp_path):
    empty = run("search", "   ", "--encoder", "random:16", check=False)
    assert empty.returncode == 2 and "query" in empty.stderr and "Traceback" not in empty.stderr
    missing = run("ingest", str(tmp_path / "nowhere"), "--encoder", "random:16", check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "fake.png").write_text("hello")
    bad_image = run(
        "search", "--image", str(tmp_path / "fake.png"), "--encoder", "random:16", check=False
    )
    assert bad_image.returncode == 2 and "not a PNG" in bad_image.stderr
    no_images = run("eval", "retrieval", "--karpathy", str(tmp_path / "k.json"), check=False)
    assert no_images.returncode == 2 and "--images" in no_images.stderr


def test_demo_on_a_small_library(run, stamps_folder):
    out = run("demo", "--library", str(stamps_folder), "--no-serve").stdout
    assert "added 3" in out
    assert 'search "a frog"' in out
    first_result = out.split('search "a frog":')[1].splitlines()[1]
    assert "frog" in first_result.lower()
    again = run("demo", "--library", str(stamps_folder), "--no-serve").stdout
    assert "added 0, skipped as duplicate 3" in again
