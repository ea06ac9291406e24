"""The conversation bench: do the answers agree with the results, cite the right item, refuse
absent things, and come from the model? Today's code against a baseline commit, in one run.

Library: every captioned Tux Paint stamp (images with their captions), default encoder; the
same run again on a library of the same pictures without captions (a photo folder).
Questions (all English, seeded):
- in-library: the subjects of items of the grouped protocol's TEST split (folders never seen
  in training), each asked in 8 phrasings ("Do you have a picture of a badger?", "badger
  pictures", "show me some badgers", "anything about badgers?", "I'm looking for a badger",
  "Tell me about a badger", "badgers", "Is there a badger? I'd like to see one.");
- broad questions about the TEST folders ("What birds do you have?", "show me some birds");
- absent things (a list of its own, none named by any caption, disjoint from the list the
  calibration measures), two phrasings each;
- small talk ("thanks!", "hello", "what can you do?", "what's the weather?");
- pictures: TEST stamps sent with "what is this?".
Measures: citation accuracy (the first cited item names the asked thing), contradiction rate
("not found" while an item naming the asked thing is among the top 3 results), absent things
not claimed (not answered as found) and said "not found", broad questions citing something of
their folder, the share of their citations that are (and how many a question gets), and the
share answered as found (not "not found", not only the closest), small talk answered without a
search, picture questions answered with that picture, the share of answers the model wrote
(of those that found something; "not found" needs no model; also given of all answers),
and text / picture turn latency p50 / p95 (seconds, wall clock, 2 cores).

The baseline runs the same questions from a git worktree of ``--baseline`` (default: main
before issue 12) in a subprocess, on a seeded sample (``--baseline-sample``).

    OPENBLAS_NUM_THREADS=1 python bench/conversation.py [--baseline REF] [--baseline-sample 150]

Writes bench/results/conversation.json and conversation.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from provenance import provenance

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
BASELINE = "3d6e89f"  # main before issue 12
ITEM_PHRASINGS = (
    "Do you have a picture of {a}?",
    "{noun} pictures",
    "show me some {plural}",
    "anything about {plural}?",
    "I'm looking for {a}",
    "Tell me about {a}",
    "{plural}",
    "Is there {a}? I'd like to see one.",
)
BROAD_PHRASINGS = ("What {kind} do you have?", "show me some {kind}")
ABSENT_PHRASINGS = ("Do you have {a}?", "show me {a}")
# Not the calibration's list (assistant.calibration.ABSENT_THINGS): held out from it.
ABSENT = """snow globe; chainsaw; walkie-talkie; vending machine; parking meter; escalator;
ironing board; paper shredder; sewing needle; lava lamp; disco ball; jukebox; pinball machine;
slot machine; roulette wheel; lottery ticket; fortune cookie; sushi platter; dim sum; ravioli;
nachos; waffle iron; espresso machine; soda fountain; water cooler; mailbox key; padlock;
doorbell; smoke detector; fire extinguisher; hard hat; safety goggles; welding torch; anvil;
grandfather clock; cuckoo clock; music box; rocking horse; jigsaw puzzle; rubik's cube"""
SMALL_TALK = (
    "thanks!", "thank you so much", "hello", "hi there", "what can you do?", "help",
    "what's the weather like tomorrow?", "tell me a joke", "great!", "bye",
)  # fmt: skip
NOT_KINDS = {
    "auto", "cartoon", "cycle", "masstransit", "naturalforces", "newyears", "seasonal", "ship",
    "town", "flight", "moon", "math", "symbols", "household", "hobbies", "medical", "military",
    "emergency", "construction", "christmas", "easter", "halloween", "hanukkah", "space",
    "winter", "alphabets", "locomotive",
}  # fmt: skip
SPELLED = {"arttools": "art tools", "roadsigns": "road signs", "body_parts": "body parts"}
COMMAND = "OPENBLAS_NUM_THREADS=1 python bench/conversation.py"


def plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def build_questions(items: int, pictures: int, seed: int = 0) -> list[dict]:
    """The bench's questions with what a right answer names (see the module docstring)."""
    from assistant.calibration import subject_of, words_of
    from retrieval.datasets.tuxpaint import captioned_stamps, load_tuxpaint, stamps_dir

    rng = np.random.default_rng(seed)
    test = load_tuxpaint("test", grouping="folder")
    subjects: dict[str, str] = {}
    for caption in test.captions:
        subject = subject_of(caption)
        noun = subject.split()[-1] if subject else ""
        if noun and len(noun) > 2 and subject.startswith(("a ", "an ")):
            subjects.setdefault(noun, subject)
    nouns = sorted(subjects)
    chosen = [nouns[i] for i in rng.permutation(len(nouns))[:items]]
    questions = []
    for noun in chosen:
        for n, phrasing in enumerate(ITEM_PHRASINGS):
            text = phrasing.format(a=subjects[noun], noun=noun, plural=plural(noun))
            questions.append({"class": "item", "phrasing": n, "text": text, "noun": noun})
    root = stamps_dir()
    folders = sorted({p.parent for p in test.images})
    for folder in folders:
        name = SPELLED.get(folder.name, folder.name)
        if folder.name in NOT_KINDS or sum(1 for _ in folder.glob("*.txt")) < 3:
            continue
        for phrasing in BROAD_PHRASINGS:
            text = phrasing.format(kind=name.replace("_", " "))
            questions.append({"class": "broad", "text": text, "folder": str(folder)})
    mentioned: set[str] = set()
    for path, caption in captioned_stamps(root):
        mentioned |= words_of(caption) | set(path.relative_to(root).parts)
    for thing in (t.strip() for t in ABSENT.split(";")):
        if words_of(thing) & mentioned:
            continue
        article = "an" if thing[0] in "aeiou" else "a"
        for phrasing in ABSENT_PHRASINGS:
            questions.append({"class": "absent", "text": phrasing.format(a=f"{article} {thing}")})
    for text in SMALL_TALK:
        questions.append({"class": "small_talk", "text": text})
    images = [test.images[i] for i in rng.permutation(len(test.images))[:pictures]]
    for image in images:
        questions.append({"class": "picture", "text": "what is this?", "image": str(image)})
    for n, q in enumerate(questions):
        q["id"] = n
    return questions


def run_questions(data_dir: Path, questions: list[dict], llm: str = "") -> list[dict]:
    """Ask every question through whatever ``assistant`` package is importable (the current
    tree, or the baseline's when run as a worker) and record what came back; ``llm`` chooses
    another LLM than the default (``--llm`` syntax)."""
    from assistant.service import Assistant, AssistantConfig
    from retrieval.encoders.registry import default_cache_dir
    from retrieval.library import LibraryConfig

    config = AssistantConfig(LibraryConfig(data_dir, "default", None, default_cache_dir()))
    if llm:
        import dataclasses

        from assistant.llm import parse_llm_setting

        config = dataclasses.replace(config, llm=parse_llm_setting(llm))
    assistant = Assistant(config)
    run = uuid.uuid4().hex[:8]  # sessions of this run only: saved conversations persist
    assistant.turn("bench", f"warm-up-{run}", "Do you have a picture of a frog?")
    rows = []
    for q in questions:
        started = time.perf_counter()
        images = [q["image"]] if q.get("image") else []
        reply = assistant.turn("bench", f"q{q['id']}-{run}", q["text"], images)
        rows.append(
            {
                "id": q["id"],
                "seconds": round(time.perf_counter() - started, 4),
                "answer": reply.answer,
                "grounding": reply.grounding,
                "query_kind": reply.query_kind,
                "cited": [[c.caption, c.uri] for c in reply.citations],
                "results": [[r.caption, r.uri] for r in reply.results[:3]],
            }
        )
        if len(rows) % 50 == 0:
            print(f"  {len(rows)}/{len(questions)}", file=sys.stderr, flush=True)
    return rows


def score(questions: list[dict], rows: list[dict], captions: dict[str, str]) -> dict:
    """The bench's figures for one run; ``captions`` names every file (uncaptioned libraries
    are judged by what their files show)."""
    from assistant.calibration import words_of

    by_id = {q["id"]: q for q in questions}

    def caption(entry: list[str]) -> str:
        return entry[0] or captions.get(entry[1], "")

    def names(entry: list[str], noun: str) -> bool:
        return noun in words_of(caption(entry)) or plural(noun) in caption(entry).lower()

    def share(selected: list[dict], test) -> float | None:
        return round(sum(map(test, selected)) / len(selected), 3) if selected else None

    group = {c: [r for r in rows if by_id[r["id"]]["class"] == c] for c in
             ("item", "broad", "absent", "small_talk", "picture")}  # fmt: skip
    items = group["item"]

    def cites_right(r: dict) -> bool:
        return bool(r["cited"]) and names(r["cited"][0], by_id[r["id"]]["noun"])

    def in_top3(r: dict) -> bool:
        return any(names(e, by_id[r["id"]]["noun"]) for e in r["results"])

    def refused(r: dict) -> bool:
        return r["grounding"] == "not_found" or r["answer"].startswith("I have nothing exactly")

    def of_folder(r: dict) -> bool:
        return any(e[1].startswith(by_id[r["id"]]["folder"]) for e in r["cited"])

    def same_picture(r: dict) -> bool:
        asked = by_id[r["id"]]["image"]
        return bool(r["cited"]) and (
            r["cited"][0][1] == asked or caption(r["cited"][0]) == captions.get(asked)
        )

    # each citation of a broad answer on its own
    broad_citations = [{"id": r["id"], "cited": [e]} for r in group["broad"] for e in r["cited"]]
    text_seconds = [r["seconds"] for c in ("item", "broad", "absent") for r in group[c]]
    picture_seconds = [r["seconds"] for r in group["picture"]]
    answered = [r for r in rows if by_id[r["id"]]["class"] != "small_talk"]
    found = [r for r in answered if r["grounding"] != "not_found"]
    phrasing = {
        ITEM_PHRASINGS[p]: share([r for r in items if by_id[r["id"]]["phrasing"] == p],
                                 cites_right)
        for p in range(len(ITEM_PHRASINGS))
    }  # fmt: skip
    return {
        "questions": {c: len(v) for c, v in group.items()},
        "citation_accuracy": share(items, cites_right),
        "citation_accuracy_by_phrasing": phrasing,
        "contradiction_rate": share(items, lambda r: r["grounding"] == "not_found" and in_top3(r)),
        "asked_item_in_top3": share(items, in_top3),
        "broad_cites_that_kind": share(group["broad"], of_folder),
        "broad_citations_of_that_kind": share(broad_citations, of_folder),
        "broad_answered_as_found": share(group["broad"], lambda r: not refused(r)),
        "broad_citations_of_that_kind_per_question": round(
            sum(map(of_folder, broad_citations)) / max(1, len(group["broad"])), 2
        ),
        "absent_not_claimed": share(group["absent"], refused),
        "absent_said_not_found": share(group["absent"], lambda r: r["grounding"] == "not_found"),
        "small_talk_without_search": share(group["small_talk"], lambda r: not r["results"]),
        "picture_answered_with_it": share(group["picture"], same_picture),
        "model_written": share(found, lambda r: r["grounding"] == "model"),
        "model_written_of_all": share(answered, lambda r: r["grounding"] == "model"),
        "text_turn_p50_s": _quantile(text_seconds, 0.5),
        "text_turn_p95_s": _quantile(text_seconds, 0.95),
        "picture_turn_p50_s": _quantile(picture_seconds, 0.5),
        "picture_turn_p95_s": _quantile(picture_seconds, 0.95),
    }


def _quantile(values: list[float], q: float) -> float | None:
    return round(float(np.quantile(values, q)), 3) if values else None


def prepare_libraries(home: Path) -> tuple[Path, Path, dict[str, str]]:
    """The captioned and the uncaptioned library (ingested once, reused), and every file's
    caption. The uncaptioned one holds copies named like a camera's (img-0001.png), with no
    sidecar caption and no telling folder, as a photo folder would."""
    import shutil

    from retrieval.datasets.tuxpaint import captioned_stamps, stamps_dir
    from retrieval.encoders.registry import default_cache_dir
    from retrieval.library import Library, LibraryConfig

    stamps = captioned_stamps(stamps_dir())
    captions = {str(path): caption for path, caption in stamps}
    captioned, bare = home / "captioned", home / "uncaptioned"
    files = bare / "files"
    files.mkdir(parents=True, exist_ok=True)
    copies = []
    for n, (path, caption) in enumerate(stamps, start=1):
        copy = files / f"img-{n:04d}{path.suffix.lower()}"
        if not copy.exists():
            shutil.copyfile(path, copy)
        captions[str(copy)] = caption
        copies.append(copy)
    manifests = {
        captioned: [{"image": str(p), "caption": c} for p, c in stamps],
        bare: [{"image": str(p)} for p in copies],
    }
    for folder, rows in manifests.items():
        manifest = folder / "manifest.jsonl"
        folder.mkdir(parents=True, exist_ok=True)
        manifest.write_text("\n".join(json.dumps(r) for r in rows))
        library = Library(LibraryConfig(folder / "data", "default", None, default_cache_dir()))
        if library.index.count() < len(rows):
            print(f"ingesting {len(rows)} stamps into {folder.name}", file=sys.stderr)
            library.ingest(manifest, audio="none")
    return captioned / "data", bare / "data", captions


def uncaptioned_only(args: argparse.Namespace) -> None:
    """The uncaptioned library ingested twice, by image vectors alone and with generated
    descriptions (and the text read in pictures, as ingest does by default), the same
    questions on both."""
    from retrieval.encoders.registry import default_cache_dir
    from retrieval.library import Library, LibraryConfig

    _, bare, captions = prepare_libraries(args.home)
    manifest = bare.parent / "manifest.jsonl"
    questions = build_questions(args.items, args.pictures)
    report: dict = {
        "provenance": provenance(encoder_name(), COMMAND),
        "questions": len(questions),
        "library": "every Tux Paint stamp copied as img-NNNN.png, no captions, no folders",
    }
    for name, enrich in (("image vectors alone", False), ("generated descriptions", True)):
        data = bare.parent / f"data-{'described' if enrich else 'plain'}"
        library = Library(LibraryConfig(data, "default", None, default_cache_dir()))
        if library.index.count() == 0:
            started = time.perf_counter()
            library.ingest(
                manifest, audio="none", ocr="gated" if enrich else "off", describe=enrich
            )
            report.setdefault("ingest_seconds", {})[name] = round(time.perf_counter() - started, 1)
        rows = run_questions(data, questions)
        report[name] = score(questions, rows, captions)
        print(name, json.dumps(report[name], indent=1), file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "conversation-uncaptioned.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))


def encoder_name() -> str:
    """The name of the encoder the libraries use (the default; the same instance, not loaded
    again)."""
    from retrieval.encoders.registry import default_cache_dir, load_encoder

    return load_encoder("default", default_cache_dir()).name


def run_baseline(ref: str, data_dir: Path, questions: list[dict]) -> list[dict]:
    """The same questions through the code at ``ref`` (a git worktree, this script as the
    worker, the baseline's packages first on the path)."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
                       check=True, capture_output=True)  # fmt: skip
        try:
            asked, answers = Path(scratch) / "questions.json", Path(scratch) / "rows.json"
            asked.write_text(json.dumps(questions))
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run(
                [sys.executable, __file__, "--worker", str(data_dir), str(asked), str(answers)],
                check=True, env=env, cwd=scratch,
            )  # fmt: skip
            return json.loads(answers.read_text())
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)  # fmt: skip


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = [
        "citation_accuracy", "contradiction_rate", "absent_not_claimed",
        "small_talk_without_search", "picture_answered_with_it", "model_written",
    ]  # fmt: skip
    runs = [(name, report[name]) for name in ("baseline", "captioned", "uncaptioned")
            if report.get(name)]  # fmt: skip
    x = np.arange(len(measures))
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for n, (name, figures) in enumerate(runs):
        values = [figures.get(m) or 0 for m in measures]
        ax.bar(x + n * width, values, width, label=name)
    ax.set_xticks(x + width * (len(runs) - 1) / 2, [m.replace("_", "\n") for m in measures])
    ax.set_ylim(0, 1.05)
    ax.set_title("Conversation bench (packaged library, 2 CPU cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=32, help="in-library subjects (x8)")
    parser.add_argument("--pictures", type=int, default=20)
    parser.add_argument("--baseline", default=BASELINE, help="git ref to compare with")
    parser.add_argument("--baseline-sample", type=int, default=150)
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache/crossmedia-bench/conv")
    parser.add_argument(
        "--llm", default="", help="measure another LLM (e.g. packaged:qwen2.5-coder-1.5b) on the "
        "captioned library only; writes conversation-<llm>.json"
    )  # fmt: skip
    parser.add_argument("--llm-sample", type=int, default=60, help="questions for --llm")
    parser.add_argument(
        "--uncaptioned-only", action="store_true", help="only the library without captions, "
        "with and without generated descriptions; writes conversation-uncaptioned.json"
    )  # fmt: skip
    args = parser.parse_args()
    if args.uncaptioned_only:
        uncaptioned_only(args)
        return
    if args.llm:
        captioned, _, captions = prepare_libraries(args.home)
        questions = build_questions(args.items, args.pictures)
        order = np.random.default_rng(2).permutation(len(questions))[: args.llm_sample]
        questions = [questions[i] for i in sorted(order)]
        rows = run_questions(captioned, questions, args.llm)
        report = {
            "provenance": provenance(encoder_name(), COMMAND),
            "llm": args.llm,
            "captioned": score(questions, rows, captions),
        }
        name = re.sub(r"[^a-z0-9.]+", "-", args.llm.lower())
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"conversation-{name}.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=1))
        return
    captioned, bare, captions = prepare_libraries(args.home)
    questions = build_questions(args.items, args.pictures)
    print(f"{len(questions)} questions", file=sys.stderr)
    report: dict = {"provenance": provenance(encoder_name(), COMMAND), "questions": len(questions)}
    rows = run_questions(captioned, questions)
    report["captioned"] = score(questions, rows, captions)
    print(json.dumps(report["captioned"], indent=1), file=sys.stderr)
    uncaptioned = run_questions(bare, questions)
    report["uncaptioned"] = score(questions, uncaptioned, captions)
    if args.baseline_sample > 0:
        order = np.random.default_rng(1).permutation(len(questions))[: args.baseline_sample]
        sample = [questions[i] for i in sorted(order)]
        baseline_rows = run_baseline(args.baseline, captioned, sample)
        report["baseline"] = score(sample, baseline_rows, captions)
        report["baseline_ref"] = args.baseline
        chosen = {q["id"] for q in sample}
        report["captioned_on_baseline_sample"] = score(
            sample, [r for r in rows if r["id"] in chosen], captions
        )
    report["examples"] = [
        {"question": questions[r["id"]]["text"], "answer": r["answer"], "grounding": r["grounding"]}
        for r in rows[:: max(1, len(rows) // 30)]
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "conversation.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    plot(report, RESULTS / "conversation.png")
    summary = {k: v for k, v in report.items() if k not in ("examples",)}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        data, asked, out = map(Path, sys.argv[2:])
        Path(out).write_text(json.dumps(run_questions(data, json.loads(asked.read_text()))))
    else:
        main()
