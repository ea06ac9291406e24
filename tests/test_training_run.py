"""The trainer end to end: a tiny run improves retrieval, checkpoints resume, heads round-trip."""

import numpy as np
import pytest
import torch

from retrieval.training.features import PairFeatures
from retrieval.training.model import AlignedHeads, HeadsConfig
from retrieval.training.trainer import TrainConfig, evaluate_heads, train_heads


def synthetic_features(n: int, seed: int, dim: int = 16, feature_dim: int = 24) -> PairFeatures:
    """Texts and images that share a hidden concept, seen through different random maps: the
    base vectors alone match poorly, the image features hold what is needed to fix them."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(99)  # the same maps for every split
    to_text = mixing.standard_normal((8, dim))
    to_image = mixing.standard_normal((8, dim))
    to_features = mixing.standard_normal((8, feature_dim))
    concepts = rng.standard_normal((n, 8))

    def unit(x):
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return PairFeatures(
        image_features=unit(concepts @ to_features + 0.1 * rng.standard_normal((n, feature_dim))),
        image_base=unit(concepts @ to_image),
        text_base=unit(concepts @ to_text),
        relevant=[[i] for i in range(n)],
        kept=list(range(n)),
    )


def test_training_improves_held_out_recall_and_resumes(tmp_path):
    train, dev, test = (
        synthetic_features(400, 0),
        synthetic_features(100, 1),
        synthetic_features(100, 2),
    )
    untrained = evaluate_heads(AlignedHeads(HeadsConfig(dim=16, image_feature_dim=24)), test)
    config = TrainConfig(loss="infonce", epochs=3, batch_size=64, learning_rate=3e-3, seed=0)
    heads, history = train_heads(train, config, tmp_path / "run", dev=dev, progress=False)
    assert len(history) == 3 and (tmp_path / "run" / "curve.png").exists()
    trained = evaluate_heads(heads, test)
    assert trained["text_to_image"]["R@10"] > untrained["text_to_image"]["R@10"] + 20

    longer = TrainConfig(loss="infonce", epochs=5, batch_size=64, learning_rate=3e-3, seed=0)
    _, resumed = train_heads(train, longer, tmp_path / "run", dev=dev, progress=False)
    assert [h["epoch"] for h in resumed] == [0, 1, 2, 3, 4]
    assert resumed[:3] == history  # the first epochs were not run again


def test_vsepp_distillation_and_adversarial_terms_train(tmp_path):
    train, dev = synthetic_features(200, 3), synthetic_features(50, 4)
    config = TrainConfig(
        loss="vsepp",
        epochs=2,
        batch_size=50,
        learning_rate=1e-3,
        distill_weight=0.5,
        adversarial_weight=0.1,
    )
    untrained = evaluate_heads(AlignedHeads(HeadsConfig(dim=16, image_feature_dim=24)), dev)
    heads, history = train_heads(train, config, tmp_path / "vsepp", dev=dev, progress=False)
    assert all(np.isfinite(h["loss"]) for h in history)
    trained = evaluate_heads(heads, dev)
    assert trained["text_to_image"]["R@10"] > untrained["text_to_image"]["R@10"] + 30


def test_heads_save_and_load_round_trip(tmp_path):
    heads = AlignedHeads(HeadsConfig(dim=16, image_feature_dim=24))
    torch.nn.init.normal_(heads.text_head.mlp[-1].weight)
    heads.save(tmp_path / "heads")
    loaded = AlignedHeads.load(tmp_path / "heads")
    base = torch.nn.functional.normalize(torch.randn(3, 16), dim=-1)
    assert torch.allclose(loaded.texts(base), heads.eval().texts(base))
    from retrieval.errors import EncoderError

    with pytest.raises(EncoderError, match="no trained heads"):
        AlignedHeads.load(tmp_path / "nothing")


def test_train_command_and_trained_encoder_by_name(run, tmp_path, stamps_root):
    import json
    import shutil

    from retrieval.datasets.tuxpaint import captioned_stamps

    lines = []
    for keyword in ("frog", "guitar", "banana", "saturn", "car", "duck"):
        path = next(
            p
            for p, c in captioned_stamps(stamps_root)
            if keyword in c.lower() and p.suffix == ".png"
        )
        shutil.copy(path, tmp_path / path.name)
        lines.append({"image": path.name, "caption": f"a picture of a {keyword}"})
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    out = tmp_path / "heads"
    printed = run(
        "train", "--out", str(out), "--pairs", str(tmp_path / "pairs.jsonl"), "--epochs", "3"
    ).stdout
    assert "trained:" in printed and (out / "heads.pt").exists() and (out / "history.json").exists()
    result = json.loads(
        run(
            "eval",
            "retrieval",
            "--pairs",
            str(tmp_path / "pairs.jsonl"),
            "--encoder",
            f"trained:{out}",
            "--json",
        ).stdout
    )
    assert result["encoder"].startswith("trained-") and result["n_images"] == 6
    assert result["text_to_image"]["R@5"] >= 50
    missing = run("train", "--out", str(tmp_path / "x"), check=False)
    assert missing.returncode == 2 and "give training pairs" in missing.stderr


def test_adapting_from_trained_heads_never_ends_below_them_on_dev(tmp_path):
    from retrieval.metrics import rsum

    train, dev = synthetic_features(300, 5), synthetic_features(80, 6)
    fast = TrainConfig(loss="infonce", epochs=3, batch_size=64, learning_rate=3e-3)
    start, _ = train_heads(train, fast, tmp_path / "start", dev=dev, progress=False)
    start.save(tmp_path / "start-half", half=True)
    loaded = AlignedHeads.load(tmp_path / "start-half")  # float16 on disk, float32 in memory
    assert next(loaded.parameters()).dtype == torch.float32
    harmful = TrainConfig(loss="vsepp", epochs=2, batch_size=64, learning_rate=0.5)
    adapted, _ = train_heads(train, harmful, tmp_path / "adapted", dev=dev, init=loaded,
                             progress=False)  # fmt: skip
    assert rsum(evaluate_heads(adapted, dev)) >= rsum(evaluate_heads(loaded, dev)) - 1e-6
