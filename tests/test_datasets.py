import json

import pytest

from retrieval.datasets.karpathy import load_karpathy
from retrieval.datasets.pairs import PairSet, load_pairs_jsonl
from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.errors import DatasetError


def test_pairs_jsonl_resolves_paths_and_merges_captions(tmp_path):
    lines = [
        {"image": "a.png", "caption": "a red ball"},
        {"image": "a.png", "caption": "a ball"},
        {"image": str(tmp_path / "b.png"), "caption": ["a ball", "a blue cube"]},
    ]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    pairs = load_pairs_jsonl(tmp_path / "pairs.jsonl")
    assert pairs.images == [tmp_path / "a.png", tmp_path / "b.png"]
    assert pairs.captions == ["a red ball", "a ball", "a blue cube"]
    assert pairs.relevant == [[0], [0, 1], [1]]
    assert pairs.relevance_matrix().sum() == 4


def test_pairs_jsonl_errors_name_the_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"image": "a.png", "caption": "x"}\n{"img": 1}\n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2"):
        load_pairs_jsonl(tmp_path / "bad.jsonl")
    with pytest.raises(DatasetError, match="not found"):
        load_pairs_jsonl(tmp_path / "missing.jsonl")


def test_karpathy_layout(tmp_path):
    data = {
        "images": [
            {
                "filepath": "val2014",
                "filename": "1.jpg",
                "split": "test",
                "sentences": [{"raw": "A dog runs."}, {"raw": "A brown dog."}],
            },
            {"filename": "2.jpg", "split": "train", "sentences": [{"raw": "A cat."}]},
            {"filename": "3.jpg", "split": "restval", "sentences": [{"raw": "A bird."}]},
        ]
    }
    (tmp_path / "dataset_coco.json").write_text(json.dumps(data))
    test = load_karpathy(tmp_path / "dataset_coco.json", tmp_path / "imgs", "test")
    assert test.images == [tmp_path / "imgs" / "val2014" / "1.jpg"]
    assert test.captions == ["A dog runs.", "A brown dog."]
    train = load_karpathy(tmp_path / "dataset_coco.json", tmp_path / "imgs", "train")
    assert len(train.images) == 2  # restval joins train, as in the Karpathy protocol
    with pytest.raises(DatasetError, match="no images in split"):
        load_karpathy(tmp_path / "dataset_coco.json", tmp_path, "val")


def test_tuxpaint_splits_are_disjoint_deterministic_and_sized(stamps_root):
    splits = {name: load_tuxpaint(name, stamps_root) for name in ("train", "dev", "test")}
    captions = [set(s.captions) for s in splits.values()]
    images = [set(s.images) for s in splits.values()]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not captions[a] & captions[b]
            assert not images[a] & images[b]
    assert 300 <= len(splits["test"]) < 320
    assert 150 <= len(splits["dev"]) < 170
    assert len(splits["train"]) > 400
    assert load_tuxpaint("test", stamps_root).images == splits["test"].images
    assert load_tuxpaint("test", stamps_root, seed=1).images != splits["test"].images


def test_from_pairs_skips_empty_captions(tmp_path):
    pairs = PairSet.from_pairs([(tmp_path / "a.png", "  "), (tmp_path / "b.png", "b")])
    assert pairs.captions == ["b"] and len(pairs) == 1


def test_openclipart_titles_are_cleaned(tmp_path):
    from retrieval.datasets.openclipart import clean_title, load_openclipart

    def svg(name: str, *titles: str) -> None:
        meta = "".join(f"<dc:title>{t}</dc:title>" for t in titles)
        (tmp_path / f"{name}.svg").write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<metadata>{meta}</metadata><rect width='4' height='4'/></svg>"
        )

    svg("frog", "Green frog by Someone", "Open Clip Art Library")
    svg("icon", "Part of the Flat Icon Collection (2004)")
    svg("empty")
    for n in range(3):
        svg(f"star{n}", "gramastar")
    pairs = load_openclipart(tmp_path, max_repeats=2)
    assert pairs.captions == ["Green frog"]
    assert [p.name for p in pairs.images] == ["frog.svg"]
    assert clean_title("Etiquette Icons") == "" and clean_title("red_flower") == "red flower"
    with pytest.raises(DatasetError, match="openclipart-svg"):
        load_openclipart(tmp_path / "missing")
