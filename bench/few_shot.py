"""Few-shot adaptation: what 50 and 200 labelled pairs of a new domain buy.

New domain: the Open Clip Art "food" category (clip-art drawings titled "pizza slice", "cherry
pie", ...), which the shipped heads never saw (held out by --openclipart-exclude food). A seeded
split: 100 pairs for testing, the rest a pool from which the first 50 / 200 train. Rows: ConSE;
the shipped default as is; the shipped default fine-tuned on the pairs (what
``crossmedia train --init default --pairs MY_PAIRS.jsonl`` does, its default settings: 30
epochs, lr 1e-4, no dev set, last epoch); the same pairs trained from untrained heads (ConSE
start). Both directions, R@1/5/10 and median rank, on the 100 test pairs. Writes
bench/results/few_shot.json.

    OPENBLAS_NUM_THREADS=1 python bench/few_shot.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from provenance import provenance

from retrieval.datasets.openclipart import load_openclipart
from retrieval.datasets.pairs import PairSet
from retrieval.encoders.conse import ConSEConfig
from retrieval.encoders.registry import (
    PACKAGED_HEADS,
    build_conse,
    default_cache_dir,
    trained_encoder_name,
)
from retrieval.training.features import pair_features
from retrieval.training.model import AlignedHeads
from retrieval.training.trainer import TrainConfig, evaluate_embeddings, evaluate_heads, train_heads

RESULTS = Path(__file__).parent / "results"
DOMAIN = "food"
TEST_SIZE = 100
SHOTS = (50, 200)


def main() -> None:
    cache = default_cache_dir()
    conse = build_conse(ConSEConfig(), cache)
    pairs = load_openclipart(only=[DOMAIN]).pairs()
    order = np.random.default_rng(0).permutation(len(pairs))
    test = pair_features(
        PairSet.from_pairs([pairs[i] for i in order[:TEST_SIZE]]), conse, cache, progress=False
    )
    pool = [pairs[i] for i in order[TEST_SIZE:]]
    shipped = AlignedHeads.load(PACKAGED_HEADS)
    rows = {
        "ConSE": evaluate_embeddings(test.image_base, test.text_base, test),
        "shipped default (no adaptation)": evaluate_heads(shipped, test),
    }
    config = TrainConfig()  # the CLI's defaults
    for shots in SHOTS:
        train = pair_features(PairSet.from_pairs(pool[:shots]), conse, cache, progress=False)
        for label, init in (
            (f"default + {shots} pairs", shipped),
            (f"ConSE + {shots} pairs", None),
        ):
            with tempfile.TemporaryDirectory() as out:
                heads, _ = train_heads(train, config, out, init=init, progress=False)
            rows[label] = evaluate_heads(heads, test)
    for label, row in rows.items():
        print(f"{label:35s} t2i R@10 {row['text_to_image']['R@10']:5.1f}  "
              f"i2t R@10 {row['image_to_text']['R@10']:5.1f}", flush=True)  # fmt: skip
    report = {
        # the shipped heads every "default" row starts from (the fine-tuned ones are this run's)
        "provenance": provenance(
            trained_encoder_name(PACKAGED_HEADS), "OPENBLAS_NUM_THREADS=1 python bench/few_shot.py"
        ),
        "domain": f"Open Clip Art '{DOMAIN}' (held out of the shipped training)",
        "sizes": {"test": TEST_SIZE, "pool": len(pool), "shots": SHOTS},
        "train_config": config.__dict__,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "few_shot.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
