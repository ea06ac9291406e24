"""Item fusion, measured: a text query (the stamp's one-line description) against items that
have an image and a caption (the stamp's file name as words: "badger", "lightning bolt"), on the
Tux Paint TEST split of the grouped protocol, with the shipped default encoder.

Items are represented by the image vector only, the caption vector only, the mean of the two,
the better of the two (what a search over both collections returns), and the learned attention
and gated fusion (trained on the TRAIN split with half the captions made uninformative, seeded).
Two conditions: clean captions, and half the captions replaced by "IMG_2031"-style names or
nothing, which is what real libraries look like. Also the weight the gate puts on the image for
informative and uninformative captions. Writes bench/results/item_fusion.json and .png.

    OPENBLAS_NUM_THREADS=1 python bench/item_fusion.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch.nn.functional as F
from provenance import provenance
from torch import from_numpy

from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders.registry import default_cache_dir, load_encoder
from retrieval.fusion import AttentionFusion, GatedFusion
from retrieval.metrics import answerable_metrics
from retrieval.training.fusion_training import (
    FusionItems,
    fused_vectors,
    train_fusion,
    tuxpaint_fusion_items,
)

RESULTS = Path(__file__).parent / "results"
CONDITIONS = {"clean captions": 0.0, "half the captions uninformative": 0.5}


def text_to_item(items: FusionItems, scores: np.ndarray) -> dict:
    """Text->item metrics of a (queries, items) score matrix."""
    return answerable_metrics(scores, items.relevance_matrix())["text_to_image"]


def item_scores(items: FusionItems, fusions: dict) -> dict[str, np.ndarray]:
    """Query-item scores for each way of representing the items."""
    image, caption = items.vectors[:, 0], items.vectors[:, 1] * items.present[:, 1:]
    vectors = {
        "image only": image,
        "caption only": caption,
        "mean of the two": F.normalize(from_numpy(image + caption), dim=-1).numpy(),
    }
    vectors.update({name: fused_vectors(fusion, items)[0] for name, fusion in fusions.items()})
    scores = {name: items.queries @ v.T for name, v in vectors.items()}
    # what a search over both collections returns: the better of the two matches
    scores["best of image or caption"] = np.maximum(scores["image only"], scores["caption only"])
    return scores


def main() -> None:
    encoder = load_encoder("default", default_cache_dir())
    train_items, _ = tuxpaint_fusion_items(encoder, load_tuxpaint("train", grouping="folder"), 0)
    fusions = {
        "attention fusion": AttentionFusion(encoder.dim, n_modalities=2),
        "gated fusion": GatedFusion(encoder.dim, n_modalities=2),
    }
    history = {name: train_fusion(f, train_items, progress=False) for name, f in fusions.items()}
    test_pairs = load_tuxpaint("test", grouping="folder")
    report: dict = {
        "provenance": provenance(
            encoder.name, "OPENBLAS_NUM_THREADS=1 python bench/item_fusion.py"
        ),
        "encoder": encoder.name,
        "training_loss": history,
        "conditions": {},
    }
    for condition, share in CONDITIONS.items():
        items, replaced = tuxpaint_fusion_items(encoder, test_pairs, seed=1, share=share)
        rows = {name: text_to_item(items, v) for name, v in item_scores(items, fusions).items()}
        _, gate_weights = fused_vectors(fusions["gated fusion"], items)
        report["conditions"][condition] = {
            "uninformative_share": share,
            "rows": rows,
            "gate_image_weight": {
                "informative captions": round(float(gate_weights[~replaced, 0].mean()), 3),
                "uninformative captions": round(float(gate_weights[replaced, 0].mean()), 3)
                if replaced.any()
                else None,
            },
        }
        for name, row in rows.items():
            print(condition, name, row["R@1"], row["R@10"], row["median_rank"], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "item_fusion.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS / "item_fusion.png")


def plot(report: dict, path: Path) -> None:
    from plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    conditions = list(report["conditions"])
    labels = list(report["conditions"][conditions[0]]["rows"])
    y = np.arange(len(labels))
    for n, condition in enumerate(conditions):
        rows = report["conditions"][condition]["rows"]
        ax.barh(y + (n - 0.5) * 0.4, [rows[r]["R@10"] for r in labels], height=0.4, label=condition)
    ax.set_yticks(y, labels)
    ax.set_xlabel("text→item R@10 (%)")
    ax.set_title("Tux Paint test (grouped split): items with an image and a file-name caption")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
