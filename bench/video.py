"""Video search: slideshow clips made from the Tux Paint grouped TEST pictures (never trained on),
several stamps per clip at known times, with the stamps' recorded English descriptions (where
there is one) on the sound track. Each stamp's caption is a query for its clip among all clips:
clip R@1/5/10 and median rank (ties against the query, as CLIP_benchmark counts them), and
whether the moment given for the right clip is within 2 s of the stamp's appearance; the
whole-video vector (mean of keyframes) against the keyframe/speech parts. Also ingest speed in
seconds of video per second. Writes bench/results/video.json.

    OPENBLAS_NUM_THREADS=1 python bench/video.py [--clips 36 --scenes 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import provenance
from tqdm import tqdm

from assistant.speech import load_transcriber
from retrieval.datasets.clips import Scene, make_slideshow, scene_starts
from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.discovery import discover
from retrieval.encoders import load_encoder
from retrieval.index import MediaIndex
from retrieval.ingest import Ingestor
from retrieval.metrics import first_relevant_ranks

RESULTS = Path(__file__).parent / "results"
SCENE_SECONDS = 4.0
MOMENT_TOLERANCE = 2.0
MATCHES = {"whole video (mean of keyframes)": ("content",), "parts (keyframes, speech)": ("part",),
           "all vectors (the default)": ("content", "caption", "fused", "part")}  # fmt: skip


def build_clips(folder: Path, clips: int, scenes: int, seed: int) -> list[dict]:
    """Write the clips; returns each scene's caption, clip file and start time."""
    test = load_tuxpaint("test", grouping="folder")
    # pictures whose caption is theirs alone (a shared caption would have several right clips)
    captions = {
        test.images[images[0]]: test.captions[c]
        for c, images in enumerate(test.relevant)
        if len(images) == 1
    }
    unique = sorted(captions)
    order = np.random.default_rng(seed).permutation(len(unique))[: clips * scenes]
    if len(order) < clips * scenes:
        raise SystemExit(f"only {len(unique)} pictures with their own caption; ask for fewer")
    truth = []
    for number in tqdm(range(clips), desc="making clips", unit="clip"):
        pictures = [unique[i] for i in order[number * scenes : (number + 1) * scenes]]
        said = [p.with_name(p.stem + "_desc.ogg") for p in pictures]
        chosen = [
            Scene(p, SCENE_SECONDS, s if s.is_file() else None)
            for p, s in zip(pictures, said, strict=True)
        ]
        clip = make_slideshow(folder / f"clip{number:03d}.mp4", chosen)
        for picture, start, scene in zip(pictures, scene_starts(chosen), chosen, strict=True):
            truth.append({"caption": captions[picture], "clip": clip.name, "start": start,
                          "spoken": scene.sound is not None})  # fmt: skip
    return truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=36)
    parser.add_argument("--scenes", type=int, default=5, help="stamps per clip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    encoder = load_encoder("default")
    transcriber = load_transcriber()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "clips"
        folder.mkdir()
        truth = build_clips(folder, args.clips, args.scenes, args.seed)
        index = MediaIndex(Path(work) / "index", encoder_name=encoder.name, dim=encoder.dim)
        started = time.perf_counter()
        report = Ingestor(index, encoder, transcribe=transcriber.transcribe).ingest(
            discover(folder)
        )
        ingest_s = time.perf_counter() - started
        assert report.added == args.clips, report.summary()
        uris = {Path(index.get(i).uri).name: i for i in index.ids_of("video", args.clips)}
        clip_ids = list(uris.values())
        queries = encoder.encode_texts([t["caption"] for t in truth])
        relevant = np.zeros((len(truth), len(clip_ids)), dtype=bool)
        relevant[np.arange(len(truth)), [clip_ids.index(uris[t["clip"]]) for t in truth]] = True
        rows = {}
        for name, kinds in MATCHES.items():
            scores = np.full((len(truth), len(clip_ids)), -2.0)
            near = []
            for row, vector in enumerate(tqdm(queries, desc=name, unit="query")):
                for hit in index.query(vector, k=len(clip_ids), kinds=kinds):
                    scores[row, clip_ids.index(hit.item_id)] = hit.score
                    if hit.item_id == uris[truth[row]["clip"]]:
                        gap = abs((hit.moment or 0.0) - truth[row]["start"])
                        near.append(hit.moment is not None and gap <= MOMENT_TOLERANCE)
            ranks = first_relevant_ranks(scores, relevant, ties_against=True)
            found = ranks <= 10
            near_arr = np.array(near)
            spoken = np.array([t["spoken"] for t in truth])
            rows[name] = {
                "R@1": round(float((ranks <= 1).mean()), 3),
                "R@5": round(float((ranks <= 5).mean()), 3),
                "R@10": round(float(found.mean()), 3),
                "median_rank": float(np.median(ranks)),
                "moment_within_2s": round(float(near_arr.mean()), 3),
                "right_clip_in_top10_and_moment_within_2s": round(
                    float((found & near_arr).mean()), 3
                ),
                "R@10_scenes_with_speech": round(float(found[spoken].mean()), 3),
            }
            print(name, rows[name], flush=True)
    video_seconds = args.clips * args.scenes * SCENE_SECONDS
    command = "OPENBLAS_NUM_THREADS=1 python bench/video.py"
    result = {
        "provenance": provenance(encoder.name, command),
        "test_set": f"{args.clips} clips x {args.scenes} Tux Paint grouped-TEST stamps, "
        f"{SCENE_SECONDS:.0f} s each (320x240, 10 fps H.264); {int(spoken.sum())} scenes carry "
        "their recorded English description",
        "queries": len(truth),
        "protocol": "each stamp caption a query for its clip among all clips; ties against; moment "
        f"right when within {MOMENT_TOLERANCE:.0f} s of the stamp's start",
        "rows": rows,
        "ingest": {
            "video_seconds": video_seconds,
            "wall_seconds": round(ingest_s, 1),
            "video_seconds_per_second": round(video_seconds / ingest_s, 2),
            "keyframes": sum(int(index.get(i).metadata["keyframes"]) for i in clip_ids),
            "scenes": len(truth),
            "whisper": "tiny.en (packaged), on the clips with a sound track",
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "video.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
