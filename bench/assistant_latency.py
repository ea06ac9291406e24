"""Per-turn latency of the assistant on the packaged library (every Tux Paint stamp), packaged
models (default encoder, SmolLM2-135M, Whisper tiny.en int8), this machine's CPUs.

Text turns ask about held-out captions; image turns send a stamp; voice turns send an espeak-ng
clip of about 5 s (espeak-ng's "en" voice: Whisper tiny.en hears "en-us" saying "a picture of a"
as "a big German"). Each stage (transcription, encoding, retrieval, generation, recommendation)
and the total are reported as p50 / p95 over the turns, after one warm-up turn of each kind.
Baseline in the same run: a plain search for the same text (no LLM, no recommendations).
Writes bench/results/assistant_latency.json and .png.

    OPENBLAS_NUM_THREADS=1 python bench/assistant_latency.py [--speech-model multilingual]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir
from provenance import provenance

from assistant.service import Assistant, AssistantConfig
from retrieval.datasets.tuxpaint import load_tuxpaint, stamps_dir
from retrieval.encoders.registry import default_cache_dir
from retrieval.library import Library, LibraryConfig

RESULTS = Path(__file__).parent / "results"
STAGES = ("transcription", "encoding", "retrieval", "generation", "recommendation", "total")


def percentiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
    }


def speak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-v", "en", "-s", "140", "-w", str(path), text], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument(
        "--speech-model", default="tiny.en", help="tiny.en (default) or multilingual (base)"
    )
    args = parser.parse_args()
    data_dir = Path(user_cache_dir("crossmedia")) / "bench-qa-library"
    config = LibraryConfig(data_dir, "default", None, default_cache_dir())
    library = Library(config)
    library.ingest(stamps_dir(), audio="none")
    assistant = Assistant(AssistantConfig(config, speech_model=args.speech_model), library=library)
    assistant.warm_up()

    test = load_tuxpaint("test", grouping="folder")
    rng = np.random.default_rng(0)
    picks = rng.choice(len(test.captions), size=args.turns + 1, replace=False)
    subjects = [test.captions[i].strip().rstrip(".").lower() for i in picks]
    images = [test.images[test.relevant[i][0]] for i in picks]
    timings: dict[str, list[dict]] = {"text": [], "image": [], "voice": []}
    found: dict[str, list[bool]] = {"text": [], "image": [], "voice": []}
    heard: list[dict] = []
    baseline: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        sentences = [f"Do you have a picture of {s}? I would like to see one." for s in subjects]
        clips = [speak(s, Path(scratch) / f"{n}.wav") for n, s in enumerate(sentences)]
        clip_seconds = [_seconds(c) for c in clips]
        for n, subject in enumerate(subjects):
            session = f"bench-{n}"
            text_reply = assistant.turn("bench", session, f"Do you have a picture of {subject}?")
            image_reply = assistant.turn("bench", session + "i", images=[images[n]])
            voice_reply = assistant.turn("bench", session + "v", audio=clips[n])
            started = time.perf_counter()
            library.search(subject, k=6)
            elapsed = time.perf_counter() - started
            if n == 0:
                continue  # warm-up turn of each kind
            for kind, reply in (("text", text_reply), ("image", image_reply),
                                ("voice", voice_reply)):  # fmt: skip
                timings[kind].append(reply.timings)
                found[kind].append(reply.grounding != "not_found")
            heard.append({"said": sentences[n], "heard": voice_reply.transcript})
            baseline.append(elapsed)
            print(n, text_reply.timings["total"], image_reply.timings["total"],
                  voice_reply.timings["total"], flush=True)  # fmt: skip
    report = {
        "provenance": provenance(
            library.encoder.name, "OPENBLAS_NUM_THREADS=1 python bench/assistant_latency.py"
        ),
        "speech_model": args.speech_model,
        "library_items": library.index.count(),
        "turns_per_kind": args.turns,
        "voice_clip_seconds": percentiles(clip_seconds),
        "kinds": {
            kind: {
                stage: percentiles([t[stage] for t in rows])
                for stage in STAGES
                if all(stage in t for t in rows)
            }
            for kind, rows in timings.items()
        },
        "baseline_plain_search": percentiles(baseline),
        "answered_share": {k: round(sum(v) / len(v), 3) for k, v in found.items()},
        "voice_examples": heard[:8],
    }
    for stages in report["kinds"].values():
        stages["total_vs_plain_search_p50"] = round(
            stages["total"]["p50"] / report["baseline_plain_search"]["p50"], 1
        )
    print(json.dumps(report["kinds"], indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = "assistant_latency" + ("" if args.speech_model == "tiny.en" else f"-{args.speech_model}")
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS / f"{name}.png")


def _seconds(path: Path) -> float:
    import wave

    with wave.open(str(path)) as clip:
        return clip.getnframes() / clip.getframerate()


def plot(report: dict, path: Path) -> None:
    from plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    kinds = list(report["kinds"])
    left = np.zeros(len(kinds))
    for stage in STAGES[:-1]:
        values = np.array([report["kinds"][k].get(stage, {}).get("p50", 0.0) for k in kinds])
        ax.barh(kinds, values, left=left, label=stage)
        left += values
    ax.set_xlabel("seconds (p50 per stage)")
    ax.set_title("One chat turn on the packaged library, 2 CPU cores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
