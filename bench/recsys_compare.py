"""The recommender comparison on MovieLens-100k: popularity, item-kNN, ALS, BPR, the hybrid
blend, the two-tower model, LightFM (the peer) and the trivial baselines, on the warm,
cold-item, time-cut cold-item and cold-user protocols, same splits, 3 seeds, mean and spread.

Writes bench/results/recsys_compare_ml100k.json and .png, and rewrites the comparison block of
docs/recsys.md and README.md from that JSON (so the docs quote exactly this run).

    bash bench/setup_lightfm.sh        # once: builds the peer (skipped with a message if absent)
    OPENBLAS_NUM_THREADS=1 python bench/recsys_compare.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from plotting import pyplot
from provenance import ROOT, provenance

from recsys.comparison import LABELS, compare, docs_block, replace_block
from recsys.datasets import load_movielens_100k
from retrieval.encoders import load_encoder

RESULTS = ROOT / "bench" / "results"
STEM = "recsys_compare_ml100k"
DOCS = (ROOT / "docs" / "recsys.md", ROOT / "README.md")


def plot(summary: dict, path: Path) -> None:
    """nDCG@10 (mean, sd as error bar) per model, one panel per protocol, one row per model."""
    plt = pyplot()
    protocols = [p for p in ("warm", "cold_items", "cold_items_time", "cold_users") if p in summary]
    models = list(dict.fromkeys(m for p in protocols for m in summary[p]))
    figure, axes = plt.subplots(
        1, len(protocols), figsize=(3.2 * len(protocols) + 3, 4.2), sharey=True
    )
    for axis, name in zip(axes, protocols, strict=True):
        rows = summary[name]
        means = [rows.get(m, {}).get("ndcg@10", {}).get("mean", 0.0) for m in models]
        spread = [rows.get(m, {}).get("ndcg@10", {}).get("std", 0.0) for m in models]
        colours = [
            "tab:red" if m == "twotower" else "tab:gray" if "cheat" in m else "tab:blue"
            for m in models
        ]
        axis.barh(range(len(models)), means, xerr=spread, color=colours)
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("nDCG@10")
    axes[0].set_yticks(range(len(models)))
    axes[0].set_yticklabels([LABELS.get(m, m).replace("**", "").split(" (")[0] for m in models])
    axes[0].invert_yaxis()
    figure.suptitle(
        f"MovieLens-100k, {len(summary['seeds'])} seeds, mean and sd "
        "(red: two-tower; grey: reads the answers; no bar: not run or 0)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ and README alone")
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the plot from the saved JSON"
    )
    args = parser.parse_args()
    if args.replot:
        summary = json.loads((RESULTS / f"{STEM}.json").read_text())
        plot(summary, RESULTS / f"{STEM}.png")
        return
    started = time.perf_counter()
    encoder = load_encoder("default")
    summary = compare(load_movielens_100k(), encoder.encode_texts, tuple(range(args.seeds)))
    summary = {
        "provenance": provenance(
            encoder.name, "OPENBLAS_NUM_THREADS=1 python bench/recsys_compare.py"
        ),
        **summary,
    }
    summary["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{STEM}.json").write_text(json.dumps(summary, indent=1))
    plot(summary, RESULTS / f"{STEM}.png")
    block = docs_block(summary)
    print(block)
    if not args.no_docs:
        for doc in DOCS:
            doc.write_text(replace_block(doc.read_text(), block))


if __name__ == "__main__":
    main()
