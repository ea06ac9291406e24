"""ASR evaluation on a manifest of ``{"audio": path, "text": reference}`` lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from assistant.speech.scoring import error_rates
from assistant.speech.transcript import Transcriber
from retrieval.errors import DatasetError


@dataclass(frozen=True)
class Utterance:
    audio: Path
    text: str


def load_asr_manifest(path: str | Path) -> list[Utterance]:
    """Read a JSONL manifest; relative audio paths resolve against the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: manifest not found")
    utterances = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            audio, text = Path(record["audio"]), str(record["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(
                f'{path}:{number}: expected {{"audio": ..., "text": ...}} ({exc})'
            ) from None
        utterances.append(Utterance(audio if audio.is_absolute() else path.parent / audio, text))
    if not utterances:
        raise DatasetError(f"{path}: no utterances")
    return utterances


def evaluate_asr(
    transcriber: Transcriber,
    utterances: list[Utterance],
    language: str = "en",
    progress: bool = True,
) -> dict:
    """WER and CER (Whisper-normalised for ``language``: scoring.py) and the
    real-time factor over all utterances, transcribed in ``language``."""
    hypotheses, spent, heard = [], 0.0, 0.0
    for utterance in tqdm(utterances, desc="transcribing", unit="clip", disable=not progress):
        transcript = transcriber.transcribe(utterance.audio, language=language)
        hypotheses.append(transcript.text)
        spent += transcript.seconds
        heard += transcript.audio_seconds
    rates = error_rates([u.text for u in utterances], hypotheses, language=language)
    return {
        **rates,
        "rtf": round(spent / heard, 4) if heard else 0.0,
        "n": len(utterances),
        "engine": transcriber.engine,
        "model": transcriber.model,
        "language": language,
        "audio_seconds": round(heard, 2),
    }
