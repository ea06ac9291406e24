import csv
import json

import numpy as np
import pytest

from recsys.datasets import Rating, load_ratings_csv
from recsys.errors import DatasetError
from recsys.evaluation import evaluate
from recsys.protocols import Protocol, cold_item_split, temporal_split

GENRES = {
    "s": "A space adventure with rockets, aliens and starships",
    "r": "A romantic comedy about love and a wedding",
}


def clustered_ratings(seed: int = 0) -> tuple[list[Rating], dict[str, str]]:
    rng = np.random.default_rng(seed)
    items = {f"{g}{i}": f"{text}, part {i}." for g, text in GENRES.items() for i in range(40)}
    ratings = []
    for g in GENRES:
        for u in range(30):
            liked = rng.choice([i for i in items if i[0] == g], size=8, replace=False)
            disliked = rng.choice([i for i in items if i[0] != g], size=2, replace=False)
            ratings += [Rating(f"{g}-user{u}", str(i), 5.0, float(t)) for t, i in enumerate(liked)]
            ratings += [
                Rating(f"{g}-user{u}", str(i), 1.0, 100.0 + t) for t, i in enumerate(disliked)
            ]
    return ratings, items


def test_temporal_split_holds_out_each_users_latest_positives():
    ratings = [Rating("u", f"i{t}", 5.0 if t != 3 else 2.0, float(t)) for t in range(11)]
    ratings.append(Rating("lonely", "i0", 5.0, 0.0))
    items = [f"i{t}" for t in range(11)]
    split = temporal_split(ratings, ["lonely", "u"], items, Protocol())
    u = split.train.user_index["u"]
    assert {split.train.items[i] for i in split.test[u]} == {"i9", "i10"}  # 20% of 10 positives
    assert split.train.matrix[u, split.train.item_index["i3"]] == 0  # a 2-star is no positive
    assert split.test[split.train.user_index["lonely"]] == set()  # one positive: training only


def test_decayed_training_weighs_a_users_older_positives_less():
    day = 86_400.0
    ratings = [Rating("u", f"i{t}", 5.0, t * 30 * day) for t in range(11)]  # one a month
    items = [f"i{t}" for t in range(11)]
    plain = temporal_split(ratings, ["u"], items, Protocol())
    decayed = temporal_split(ratings, ["u"], items, Protocol(), half_life_days=30.0)
    assert decayed.test == plain.test and decayed.train.matrix.nnz == plain.train.matrix.nnz
    row = decayed.train.matrix[0].toarray()[0]
    index = decayed.train.item_index
    assert row[index["i8"]] == pytest.approx(plain.train.matrix[0, index["i8"]])  # the latest
    assert row[index["i7"]] == pytest.approx(row[index["i8"]] / 2)  # a month older: half
    assert row[index["i0"]] == pytest.approx(row[index["i8"]] / 2**8)


def test_cold_items_never_reach_training():
    ratings, items = clustered_ratings()
    split = cold_item_split(
        ratings, sorted({r.user for r in ratings}), list(items), Protocol(seed=3)
    )
    cold = np.flatnonzero(split.candidates)
    assert len(cold) == round(0.2 * len(items))
    assert split.train.matrix[:, cold].nnz == 0
    assert any(split.test)


def test_hybrid_ranks_cold_items_with_real_text_embeddings(default_encoder):
    from recsys.datasets import RatingsDataset

    ratings, items = clustered_ratings()
    report = evaluate(
        RatingsDataset("clusters", ratings, items),
        default_encoder.encode_texts,
        Protocol(seed=1),
        progress=False,
    )
    assert set(report["warm"]) == {"popularity", "itemknn", "als", "bpr", "hybrid", "twotower"}
    assert (
        report["cold_items"]["hybrid"]["ndcg@10"]
        > 1.5 * report["cold_items"]["popularity"]["ndcg@10"]
    )
    assert report["warm"]["hybrid"]["ndcg@10"] >= report["warm"]["popularity"]["ndcg@10"]
    assert "implicit_feedback" in report["protocol"]


def test_ratings_csv_errors(tmp_path):
    (tmp_path / "r.csv").write_text("user,item,score\nu,i,5\n")
    with pytest.raises(DatasetError, match="missing column"):
        load_ratings_csv(tmp_path / "r.csv")
    (tmp_path / "r.csv").write_text("user,item,rating,timestamp\nu,i,five,1\n")
    with pytest.raises(DatasetError, match=r"r\.csv:2"):
        load_ratings_csv(tmp_path / "r.csv")


def test_eval_recsys_cli_on_movielens(run):
    """The accuracy bars of the protocol, on the real MovieLens-100k (through the CLI)."""
    report = json.loads(run("eval", "recsys", "--dataset", "ml-100k", "--json").stdout)
    warm, cold = report["warm"], report["cold_items"]
    assert warm["als"]["users"] > 900
    assert warm["hybrid"]["ndcg@10"] >= warm["als"]["ndcg@10"]
    # the two-tower model learns from content: ahead of ALS warm, far ahead of the blend cold
    assert warm["twotower"]["ndcg@10"] > 1.05 * warm["als"]["ndcg@10"]
    assert cold["twotower"]["ndcg@10"] > 1.8 * cold["hybrid"]["ndcg@10"]
    assert warm["als"]["ndcg@10"] > 1.3 * warm["popularity"]["ndcg@10"]
    assert cold["hybrid"]["ndcg@10"] > 2.5 * cold["popularity"]["ndcg@10"]
    assert report["protocol"]["positive_threshold"] == 4.0
    decay = report["decay"]  # chosen on validation, from the whole grid
    assert set(decay["validation_ndcg_by_half_life_days"]) == {
        "0.0",
        "7.0",
        "30.0",
        "90.0",
        "365.0",
    }
    assert decay["chosen_half_life_days"] in (0.0, 7.0, 30.0, 90.0, 365.0)


def test_eval_recsys_cli_on_csv_files(tmp_path, run):
    ratings, items = clustered_ratings()
    with (tmp_path / "ratings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "item", "rating", "timestamp"])
        writer.writerows([r.user, r.item, r.rating, r.timestamp] for r in ratings)
    with (tmp_path / "items.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "title", "genre"])
        writer.writerows([i, text, i[0]] for i, text in items.items())
    (tmp_path / "bad.csv").write_text("item,title\nx,a, b\n")
    with pytest.raises(DatasetError, match="quote fields"):
        load_ratings_csv(tmp_path / "ratings.csv", tmp_path / "bad.csv")

    args = [
        "eval",
        "recsys",
        "--ratings",
        str(tmp_path / "ratings.csv"),
        "--items",
        str(tmp_path / "items.csv"),
        "--encoder",
        "random:16",
    ]
    report = json.loads(run(*args, "--json").stdout)
    assert report["dataset"] == "ratings" and report["content_encoder"] == "random-16"
    assert report["warm"]["als"]["users"] == 60
    human = run(*args).stdout
    assert "hybrid" in human and "nDCG@10" in human
    missing = run("eval", "recsys", "--ratings", str(tmp_path / "nope.csv"), check=False)
    assert missing.returncode == 2 and "file not found" in missing.stderr
