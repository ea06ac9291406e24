"""What reading text in pictures and describing uncaptioned ones cost a real ingest: the same
sample of Tux Paint stamps (the demo's library; few hold text) ingested into fresh indexes with
each setting, seconds per picture (median of the runs' per-batch times) and the ratio to the
plain ingest. Writes bench/results/ingest_enrich.json.

    OPENBLAS_NUM_THREADS=1 python bench/ingest_enrich.py [--pictures 240 --repeats 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import provenance

from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.discovery import SourceRecord
from retrieval.encoders import load_encoder
from retrieval.index import MediaIndex
from retrieval.ingest import Ingestor
from retrieval.items import PICTURE_TEXT_KEY
from retrieval.ocr import TextReader

RESULTS = Path(__file__).parent / "results"


def settings() -> dict[str, dict]:
    return {
        "plain (image tower only)": {"read_text": None, "describe": False},
        "descriptions for uncaptioned pictures": {"read_text": None, "describe": True},
        "OCR, gate at 320 px": {"read_text": TextReader(gate_side=320), "describe": False},
        "OCR, gate at 480 px (default)": {"read_text": TextReader(), "describe": False},
        "OCR without the gate": {"read_text": "ungated", "describe": False},
    }


class _Ungated(TextReader):
    """A reader whose gate always says yes (the cost of reading every picture)."""

    def has_text(self, image) -> bool:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    encoder = load_encoder("default")
    stamps = captioned_stamps()
    sample = random.Random(0).sample(stamps, args.pictures)
    # half of them without their caption, as a photo folder would be (descriptions apply)
    records = [SourceRecord("image", path, caption=caption if n % 2 else "")
               for n, (path, caption) in enumerate(sample)]  # fmt: skip
    rows: dict[str, dict] = {}
    for name, setting in settings().items():
        reader = _Ungated() if setting["read_text"] == "ungated" else setting["read_text"]
        if reader is not None:
            reader.load()
        times, read = [], 0
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as work:
                index = MediaIndex(work, encoder_name=encoder.name, dim=encoder.dim)
                ingestor = Ingestor(index, encoder, read_text=reader, describe=setting["describe"])
                started = time.perf_counter()
                report = ingestor.ingest(records, progress=False)
                times.append((time.perf_counter() - started) / len(records))
                items = index.get_many(report.added_ids).values()
                read = sum(1 for item in items if item.metadata.get(PICTURE_TEXT_KEY))
        rows[name] = {"seconds_per_picture": round(float(np.median(times)), 4),
                      "pictures_with_text_read": read}  # fmt: skip
        print(name, rows[name], flush=True)
    plain = rows["plain (image tower only)"]["seconds_per_picture"]
    for row in rows.values():
        row["ratio_to_plain"] = round(row["seconds_per_picture"] / plain, 2)
    command = "OPENBLAS_NUM_THREADS=1 python bench/ingest_enrich.py"
    result = {
        "provenance": provenance(encoder.name, command),
        "sample": f"{args.pictures} Tux Paint stamps (seed 0), every second one without its "
        "caption; whole ingest into a fresh embedded index (decode, tower, Chroma writes)",
        "repeats": args.repeats,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest_enrich.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
