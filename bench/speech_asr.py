"""Speech recognition quality and speed: WER, CER and real-time factor of the packaged Whisper
models (tiny.en and multilingual base; int8 and float32) on the LibriVox clips of Debian's
pocketsphinx-testdata and on espeak-ng phrases in several voices and speeds; latency of a
~5 s spoken query after the model is loaded; and how often a sound effect (Tux Paint's animal
sounds, no words) gets a transcript. Writes bench/results/speech_asr.json and .png.

    OPENBLAS_NUM_THREADS=1 python bench/speech_asr.py
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from provenance import provenance

from assistant.speech import load_transcriber
from assistant.speech.evaluate import Utterance, evaluate_asr

RESULTS = Path(__file__).parent / "results"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
PHRASES = [
    "show me a picture of a frog",
    "do you have any photos of red cars",
    "I would like to listen to some violin music",
    "find pictures of the planet saturn",
    "what animals live in the ocean",
    "recommend a funny film for tonight",
    "where can I find a guitar",
    "play the sound of a barking dog",
]
VOICES = [("en-us", 150), ("en-gb", 130), ("en-us+f3", 175)]
SOUND_EFFECTS = [
    "frog",
    "duck",
    "rooster",
    "bee",
    "crow",
    "owl",
    "turkey",
    "hen",
    "cuckoo",
    "seagull",
]
CONFIGS = [
    ("tiny.en", "int8"),
    ("tiny.en", "float32"),
    ("multilingual", "int8"),
    ("multilingual", "float32"),
]


def librivox() -> list[Utterance]:
    utterances = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line)
        if match:
            utterances.append(Utterance(LIBRIVOX / f"{match[2]}.wav", match[1]))
    return utterances


def espeak_set(folder: Path) -> list[Utterance]:
    utterances = []
    for n, phrase in enumerate(PHRASES):
        for voice, speed in VOICES:
            path = folder / f"{n}-{voice}-{speed}.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), phrase], check=True
            )
            utterances.append(Utterance(path, phrase))
    return utterances


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="crossmedia-asr-"))
    sets = {"librivox": librivox(), "espeak": espeak_set(folder)}
    five_seconds = folder / "query.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-s",
            "120",
            "-w",
            str(five_seconds),
            "could you show me some pictures of frogs and toads near a pond",
        ],
        check=True,
    )
    stamps = Path("/usr/share/tuxpaint/stamps")
    effects = [next(stamps.rglob(f"{name}.ogg")) for name in SOUND_EFFECTS]
    report: dict = {
        "provenance": provenance("none", "OPENBLAS_NUM_THREADS=1 python bench/speech_asr.py"),
        "sets": {k: len(v) for k, v in sets.items()},
        "results": [],
    }
    for model, compute in CONFIGS:
        started = time.perf_counter()
        transcriber = load_transcriber("faster-whisper", model, compute)
        row: dict = {
            "model": model,
            "compute_type": compute,
            "load_s": round(time.perf_counter() - started, 2),
        }
        for name, utterances in sets.items():
            row[name] = evaluate_asr(transcriber, utterances, "en", progress=False)
        latencies = []
        for _ in range(5):
            transcript = transcriber.transcribe(five_seconds)
            latencies.append(transcript.seconds)
        row["query_5s"] = {
            "audio_s": transcript.audio_seconds,
            "median_s": round(statistics.median(latencies), 3),
            "text": transcript.text,
        }
        heard = [e.stem for e in effects if transcriber.transcribe(e).is_speech]
        row["sound_effects_with_transcript"] = {
            "count": len(heard),
            "of": len(effects),
            "which": heard,
        }
        report["results"].append(row)
        print(json.dumps(row))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speech_asr.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS / "speech_asr.png")


def plot(report: dict, path: Path) -> None:
    from plotting import pyplot

    plt = pyplot()

    labels = [f"{r['model']}\n{r['compute_type']}" for r in report["results"]]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, key, title in zip(
        axes,
        ("librivox", "espeak"),
        ("WER, LibriVox clips", "WER, espeak-ng phrases"),
        strict=False,
    ):
        ax.bar(labels, [r[key]["wer"] * 100 for r in report["results"]])
        ax.set_title(title)
        ax.set_ylabel("WER (%)")
    axes[2].bar(labels, [r["librivox"]["rtf"] for r in report["results"]], color="tab:orange")
    axes[2].axhline(0.3, color="grey", linestyle="--", label="target for tiny.en")
    axes[2].set_title("real-time factor (LibriVox)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
