"""Docs that cannot go stale: every result file the README or docs quote says which encoder,
code and command made it, and that encoder is the one that ships; the recommender tables in the
docs are exactly the ones its bench JSON renders."""

import json
import re
from pathlib import Path

import pytest

from recsys.comparison import docs_block, quoted_block
from retrieval.encoders.registry import default_encoder_name

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUOTED = re.compile(r"bench/results/([A-Za-z0-9_.-]+\.json)\b")
# Benches that embed nothing (speech, installs, recsys speed) record encoder "none"; benches
# whose subject is encoders they train record "trained in this run".
NOT_THE_SHIPPED_ONE_BY_DESIGN = {"none", "trained in this run"}
# Result files made before results recorded their provenance; each leaves this list when its
# bench is run again (the bench writes the provenance block now).
NOT_YET_RERUN = {
    "few_shot.json",
    "assistant_latency.json",
    "conversation-packaged-qwen2.5-coder-0.5b.json",
    "session_sim.json",
}


def quoted_results() -> dict[str, list[str]]:
    """Result file -> the docs that quote it."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for name in QUOTED.findall(doc.read_text()):
            found.setdefault(name, []).append(doc.name)
    return found


def recorded_encoder(result: dict) -> str | None:
    for holder in (result.get("provenance", {}), result):
        for key in ("encoder", "content_encoder"):
            if isinstance(holder.get(key), str):
                return holder[key]
    return None


def test_the_default_encoders_name_is_read_without_loading_it(default_encoder):
    assert default_encoder_name() == default_encoder.name


@pytest.mark.parametrize("name", sorted(quoted_results()))
def test_a_quoted_result_was_made_with_the_shipped_encoder(name):
    path = ROOT / "bench" / "results" / name
    assert path.is_file(), f"{quoted_results()[name]} quote {path}, which does not exist"
    result = json.loads(path.read_text())
    encoder = recorded_encoder(result)
    if name in NOT_YET_RERUN:
        assert encoder is None, f"{name} records its encoder now: take it off NOT_YET_RERUN"
        return
    assert encoder is not None, f"{name} records no encoder: write it with bench/provenance.py"
    assert encoder == default_encoder_name() or encoder in NOT_THE_SHIPPED_ONE_BY_DESIGN, (
        f"{quoted_results()[name]} quote {name}, made with encoder {encoder}; the shipped "
        f"default is {default_encoder_name()}: run its bench again"
    )


def test_the_recommender_tables_are_the_ones_the_bench_json_renders():
    summary = json.loads((ROOT / "bench" / "results" / "recsys_compare_ml100k.json").read_text())
    assert summary["provenance"]["encoder"] == default_encoder_name()
    expected = docs_block(summary)
    for doc in (ROOT / "README.md", ROOT / "docs" / "recsys.md"):
        assert quoted_block(doc.read_text()) == expected, (
            f"{doc.name}: the comparison tables differ from "
            "bench/results/recsys_compare_ml100k.json; run bench/recsys_compare.py"
        )
