"""The recommender comparison: every model on every protocol over several seeds, as mean and
spread, and the markdown tables the docs quote (made from the report, never typed by hand)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from recsys.datasets import RatingsDataset
from recsys.evaluation import MODELS, PEERS, TRIVIAL, Embed, evaluate
from recsys.protocols import PROTOCOLS, Protocol

METRICS = ("ndcg@10", "recall@10", "precision@10", "coverage@10", "fit_and_score_s")
LABELS = {
    "popularity": "popularity",
    "itemknn": "item-kNN",
    "als": "ALS (implicit)",
    "bpr": "BPR (implicit)",
    "hybrid": "hybrid blend (ALS + content)",
    "twotower": "**two-tower (content in the model)**",
    "lightfm_tags": "LightFM WARP + genre/period tags (peer)",
    "lightfm_content": "LightFM WARP + content PCA-32 (peer)",
    "genre_count": "genre count (trivial)",
    "test_popularity_cheat": "test popularity (reads the answers: upper reference)",
}


def compare(
    dataset: RatingsDataset,
    embed: Embed,
    seeds: Sequence[int] = (0, 1, 2),
    protocols: Sequence[str] = PROTOCOLS,
    models: Sequence[str] = MODELS + PEERS + TRIVIAL,
    progress: bool = True,
) -> dict:
    """Run ``evaluate`` once per seed and summarise each metric as mean, standard deviation and
    the per-seed values."""
    runs = [
        evaluate(dataset, embed, Protocol(seed=seed), progress, protocols, models) for seed in seeds
    ]
    summary: dict = {
        "dataset": dataset.name,
        "seeds": list(seeds),
        "protocol": runs[0]["protocol"],
        "runs": runs,
    }
    for name in protocols:
        summary[name] = {}
        for model in runs[0][name]:
            rows = [run[name][model] for run in runs]
            if any("skipped" in row for row in rows):
                summary[name][model] = {"skipped": rows[0].get("skipped", "skipped")}
                continue
            summary[name][model] = {
                metric: {
                    "mean": round(statistics.fmean(r[metric] for r in rows), 4),
                    "std": round(statistics.pstdev(r[metric] for r in rows), 4),
                    "runs": [r[metric] for r in rows],
                }
                for metric in METRICS
            } | {"users": rows[0]["users"]}
    return summary


def markdown_table(summary: dict, protocol: str) -> str:
    """A markdown table of one protocol: mean ± spread over the seeds for each model."""
    lines = [
        f"| {protocol} ({len(summary['seeds'])} seeds, mean ± sd) | nDCG@10 | recall@10 | "
        "coverage@10 | fit + score s |",
        "|---|---|---|---|---|",
    ]
    for model, row in summary[protocol].items():
        label = LABELS.get(model, model)
        if "skipped" in row:
            lines.append(f"| {label} | skipped: {row['skipped']} | | | |")
            continue
        cells = [
            f"{row[m]['mean']:.4f} ± {row[m]['std']:.4f}"
            for m in ("ndcg@10", "recall@10", "coverage@10")
        ]
        lines.append(f"| {label} | {' | '.join(cells)} | {row['fit_and_score_s']['mean']:.1f} |")
    return "\n".join(lines)


BLOCK_START = "<!-- recsys-compare: made by bench/recsys_compare.py, do not edit -->"
BLOCK_END = "<!-- /recsys-compare -->"


def docs_block(summary: dict) -> str:
    """Every protocol's table and the line saying where they come from."""
    made = summary.get("provenance", {})
    source = (
        f"From `{made.get('command', '?')}` (`bench/results/recsys_compare_ml100k.json`), "
        f"encoder `{made.get('encoder', '?')}`, code `{made.get('code_version', '?')}`."
    )
    tables = [markdown_table(summary, p) for p in PROTOCOLS if p in summary]
    return "\n\n".join([BLOCK_START, source, *tables, BLOCK_END])


def replace_block(text: str, block: str) -> str:
    """``text`` with its comparison block replaced by ``block`` (appended if it has none)."""
    start, end = text.find(BLOCK_START), text.find(BLOCK_END)
    if start < 0 or end < start:
        return text.rstrip("\n") + "\n\n" + block + "\n"
    return text[:start] + block + text[end + len(BLOCK_END) :]


def quoted_block(text: str) -> str | None:
    """The comparison block quoted in ``text``, if any."""
    start, end = text.find(BLOCK_START), text.find(BLOCK_END)
    return None if start < 0 or end < start else text[start : end + len(BLOCK_END)]
