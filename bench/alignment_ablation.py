"""Ablation of the learned shared space on the Tux Paint TEST split, both directions, on two
split protocols: ``random`` (captions assigned at random: near-duplicates of a folder land on
both sides) and ``grouped`` (whole stamp folders on one side: unseen kinds of things).

Rows: random vectors; ConSE (training-free); heads trained with InfoNCE; with VSE++
max-violation; VSE++ + distillation; VSE++ + distillation + adversarial alignment. Each
training run is seeded and selects its epoch on the DEV split of the same protocol. Also the
modality gap: the distance between the image and text centroids. Writes
bench/results/alignment_ablation.json and .png.

    OPENBLAS_NUM_THREADS=1 python bench/alignment_ablation.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders.conse import ConSEConfig
from retrieval.encoders.registry import build_conse, default_cache_dir
from retrieval.training.features import PairFeatures, pair_features
from retrieval.training.trainer import TrainConfig, embed_features, evaluate_embeddings, train_heads

RESULTS = Path(__file__).parent / "results"
PROTOCOLS = {"random": "caption", "grouped": "folder"}
BASE = dict(epochs=30, learning_rate=1e-4, weight_decay=1e-2, seed=0)
ROWS = {
    "heads + InfoNCE": TrainConfig(loss="infonce", **BASE),
    "heads + VSE++ (max violation)": TrainConfig(loss="vsepp", **BASE),
    "heads + VSE++ + distillation": TrainConfig(loss="vsepp", distill_weight=1.0, **BASE),
    "heads + VSE++ + distillation + adversarial": TrainConfig(
        loss="vsepp", distill_weight=1.0, adversarial_weight=0.1, **BASE
    ),
}


def score(images: np.ndarray, texts: np.ndarray, features: PairFeatures) -> dict:
    result = evaluate_embeddings(images, texts, features)
    result["modality_gap"] = round(float(np.linalg.norm(images.mean(0) - texts.mean(0))), 4)
    return result


def main() -> None:
    cache = default_cache_dir()
    conse = build_conse(ConSEConfig(), cache)
    report: dict = {
        "protocols": {},
        "rows": list(ROWS),
        "train_configs": {k: v.__dict__ for k, v in ROWS.items()},
    }
    for protocol, grouping in PROTOCOLS.items():
        splits = {
            s: pair_features(load_tuxpaint(s, grouping=grouping), conse, cache)
            for s in ("train", "dev", "test")
        }
        test = splits["test"]
        rng = np.random.default_rng(0)
        rows = {
            "random": score(
                rng.standard_normal(test.image_base.shape),
                rng.standard_normal(test.text_base.shape),
                test,
            ),
            "ConSE": score(test.image_base, test.text_base, test),
        }
        for label, config in ROWS.items():
            with tempfile.TemporaryDirectory() as out:
                heads, _ = train_heads(
                    splits["train"], config, out, dev=splits["dev"], progress=False
                )
            rows[label] = score(*embed_features(heads, test), test)
            print(
                protocol,
                label,
                rows[label]["text_to_image"]["R@10"],
                rows[label]["image_to_text"]["R@10"],
                flush=True,
            )
        report["protocols"][protocol] = {
            "sizes": {
                s: {"images": len(f.image_base), "captions": len(f.text_base)}
                for s, f in splits.items()
            },
            "rows": rows,
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "alignment_ablation.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS / "alignment_ablation.png")


def plot(report: dict, path: Path) -> None:
    from plotting import pyplot

    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    for ax, (protocol, data) in zip(axes, report["protocols"].items(), strict=True):
        labels = list(data["rows"])
        y = np.arange(len(labels))
        ax.barh(
            y - 0.2,
            [data["rows"][r]["text_to_image"]["R@10"] for r in labels],
            height=0.4,
            label="text→image R@10",
        )
        ax.barh(
            y + 0.2,
            [data["rows"][r]["image_to_text"]["R@10"] for r in labels],
            height=0.4,
            label="image→text R@10",
        )
        ax.set_yticks(y, labels)
        ax.set_title(f"Tux Paint test, {protocol} split")
        ax.set_xlabel("R@10 (%)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
