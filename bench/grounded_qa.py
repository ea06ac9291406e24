"""Grounded QA on the packaged library: does the assistant cite the right item, and does it say
so when the library has nothing?

Library: every Tux Paint stamp (images with their one-line captions), default encoder.
In-library questions: made from the captions of the grouped protocol's DEV split (to choose the
relevance threshold) and TEST split (to report), e.g. "Do you have a picture of a badger?".
Absent questions: things no Tux Paint caption mentions (checked here), split in two halves the
same way. The threshold maximises balanced accuracy of "top score >= threshold" on DEV; then
full assistant turns (packaged SmolLM2) on a seeded sample of TEST questions report citation
accuracy (an item with the question's caption is cited), the not-found rate on absent questions,
the false not-found rate on in-library ones, and how often the model's own answer was kept.
Writes bench/results/grounded_qa.json.

    OPENBLAS_NUM_THREADS=1 python bench/grounded_qa.py [--sample 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from assistant.router import search_phrase
from assistant.service import Assistant, AssistantConfig
from retrieval.datasets.tuxpaint import captioned_stamps, load_tuxpaint, stamps_dir
from retrieval.encoders.registry import default_cache_dir
from retrieval.library import Library, LibraryConfig

RESULTS = Path(__file__).parent / "results"
TEMPLATES = ("Do you have a picture of {}?", "Show me {}.", "Is there {} in the library?")
ABSENT = """a laptop computer; a submarine; a skyscraper; a toaster; a vacuum cleaner;
a smartphone; a wind turbine; a chess board; a microscope; a parachute; a lighthouse;
a stethoscope; a typewriter; a wristwatch; a bulldozer; a jellyfish; a kangaroo; a flamingo;
a cactus; a volcano; a waterfall; a traffic light; a fire hydrant; a sewing machine;
a ceiling fan; a refrigerator; a hot air balloon; a skateboard; a snowboard; a trampoline;
a hammock; a chandelier; a cash register; a printer; a passport; a credit card; a syringe;
a thermometer; a wheelchair; a helicopter; a satellite dish; a suitcase; a tennis racket;
a bowling ball; an umbrella stand; a sushi roll; a croissant; a pretzel; a burrito;
a lobster; an octopus; a peacock; a hedgehog; a scorpion; a windmill; a pagoda; a canoe;
a forklift; a crane truck; a lawn mower; a dishwasher; a microwave oven; a blender;
a hair dryer; an electric kettle; a photocopier; a projector; a router; a keyboard;
a joystick; a headset; a drone; a tripod; a telescope; a compass; a barometer; a sundial;
an hourglass; a metronome; a harmonica; a bagpipe; an accordion; a xylophone; a tambourine;
a flute; a cello; a harp; a gondola; a kayak; a yacht; a tram; a subway train; a monorail;
an ambulance; a fire engine; a garbage truck; a cement mixer; an excavator; a tow truck;
a scooter; a unicycle; a sled; a snowmobile; a zeppelin; a glider; a rocket launcher;
a lantern; a candle holder; a birdcage; an aquarium; a terrarium; a greenhouse; a barn;
a silo; a castle tower; a pyramid; an igloo; a yurt; a treehouse; a fountain; a statue;
a bench press; a dumbbell; a punching bag; a yoga mat; a surfboard; a life jacket;
a scuba mask; a fishing rod; a tent; a sleeping bag; a campfire; a barbecue grill;
a picnic basket; a lunchbox; a thermos; a teapot; a wine glass; a cocktail shaker;
a corkscrew; a rolling pin; a whisk; a colander; a cheese grater; a pepper mill;
a salad bowl; a soup ladle; a frying pan; a pressure cooker""".replace("\n", " ")


def absent_things() -> list[str]:
    """The absent list minus anything whose main word appears in a Tux Paint caption."""
    words = set()
    for _, caption in captioned_stamps(stamps_dir()):
        words |= set(re.findall(r"[a-z]+", caption.lower()))
    kept = []
    for thing in (t.strip() for t in ABSENT.split(";")):
        head = thing.split()[-1]
        if head not in words and head.rstrip("s") not in words:
            kept.append(thing)
    return kept


ABSENT_KINDS = """furniture; jewellery; computers; robots; kitchen appliances; office supplies;
power tools; board games; perfumes; cosmetics; smartphones; watches; bridges; skyscrapers;
castles; statues; paintings; sculptures; garden gnomes; cheeses; sushi; cocktails; pastries;
spices; minerals; gemstones; fossils; volcanoes; glaciers; deserts; reptile eggs; toys for dogs;
medals; trophies; flags of countries; maps; banknotes; stamps for letters; keys; locks""".replace(
    "\n", " "
)


# Folder names that are not a kind of thing a person would ask for, or need spelling out.
NOT_KINDS = {
    "auto", "cartoon", "cycle", "masstransit", "naturalforces", "newyears", "seasonal", "ship",
    "town", "flight", "moon", "math", "symbols", "household", "hobbies", "medical", "military",
    "emergency", "construction", "christmas", "easter", "halloween", "hanukkah", "space",
    "winter", "alphabets", "locomotive",
}  # fmt: skip
SPELLED = {"arttools": "art tools", "roadsigns": "road signs", "body_parts": "body parts"}


def category_folders(root: Path) -> dict[str, Path]:
    """Stamp folders one and two levels down that name a kind of thing ("birds", "vehicles")."""
    folders = {}
    for folder in sorted([*root.glob("*/"), *root.glob("*/*/")]):
        captioned = sum(1 for _ in folder.rglob("*.txt"))
        if folder.is_dir() and captioned >= 3 and folder.name not in NOT_KINDS:
            folders[SPELLED.get(folder.name, folder.name)] = folder
    return folders


def absent_kinds() -> list[str]:
    words = set()
    for path, caption in captioned_stamps(stamps_dir()):
        words |= set(re.findall(r"[a-z]+", caption.lower())) | set(path.parts)
    return [
        k.strip()
        for k in ABSENT_KINDS.split(";")
        if not {w.rstrip("s") for w in k.split()} & {w.rstrip("s") for w in words}
    ]


def category_scores(library: Library, kinds: list[str]) -> np.ndarray:
    return top_scores(library, [f"What {k} do you have?" for k in kinds])


def question(caption: str, n: int) -> str:
    subject = caption.strip().rstrip(".")
    return TEMPLATES[n % len(TEMPLATES)].format(subject[:1].lower() + subject[1:])


def choose_threshold(present: np.ndarray, absent: np.ndarray) -> tuple[float, float]:
    """The cut with the best balanced accuracy, and that accuracy."""
    best = (0.0, -1.0)
    for cut in np.unique(np.concatenate([present, absent])):
        accuracy = ((present >= cut).mean() + (absent < cut).mean()) / 2
        if accuracy > best[1]:
            best = (float(cut), float(accuracy))
    return best


def top_scores(library: Library, questions: list[str]) -> np.ndarray:
    return np.array([library.search(search_phrase(q), k=1)[0].score for q in questions])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=100, help="in-library test questions")
    args = parser.parse_args()
    data_dir = Path(user_cache_dir("crossmedia")) / "bench-qa-library"
    config = LibraryConfig(data_dir, "default", None, default_cache_dir())
    library = Library(config)
    library.ingest(stamps_dir(), audio="none")

    absent = absent_things()
    half = len(absent) // 2
    splits = {
        s: [question(c, n) for n, c in enumerate(load_tuxpaint(s, grouping="folder").captions)]
        for s in ("dev", "test")
    }
    dev_present, dev_absent = (
        top_scores(library, splits["dev"]),
        top_scores(library, [question(t, n) for n, t in enumerate(absent[:half])]),
    )
    threshold, dev_accuracy = choose_threshold(dev_present, dev_absent)
    print(f"threshold {threshold:.3f} (dev balanced accuracy {dev_accuracy:.3f})", flush=True)

    assistant = Assistant(AssistantConfig(config, relevance_threshold=threshold), library=library)
    rng = np.random.default_rng(0)
    test_pairs = load_tuxpaint("test", grouping="folder")
    chosen = rng.choice(len(test_pairs.captions), size=min(args.sample, len(test_pairs.captions)))
    present_rows = []
    for n in chosen:
        caption = test_pairs.captions[n]
        reply = assistant.turn("bench", f"q{n}", question(caption, int(n)))
        cited = {c.caption.strip().lower() for c in reply.citations}
        present_rows.append(
            {
                "question": question(caption, int(n)),
                "cited_right_item": caption.strip().lower() in cited,
                "first_result_right": bool(reply.results)
                and reply.results[0].caption.strip().lower() == caption.strip().lower(),
                "grounding": reply.grounding,
                "answer": reply.answer,
            }
        )
    absent_rows = []
    for n, thing in enumerate(absent[half:]):
        reply = assistant.turn("bench", f"a{n}", question(thing, n))
        absent_rows.append(
            {"question": question(thing, n), "grounding": reply.grounding, "answer": reply.answer}
        )
    folders = category_folders(stamps_dir())
    names = sorted(folders)
    order = np.random.default_rng(1).permutation(len(names))
    dev_kinds = [names[i] for i in order[: len(names) // 2]]
    test_kinds = [names[i] for i in order[len(names) // 2 :]]
    absent_k = absent_kinds()
    half_k = len(absent_k) // 2
    category_threshold, category_dev_accuracy = choose_threshold(
        category_scores(library, dev_kinds), category_scores(library, absent_k[:half_k])
    )
    print(f"category threshold {category_threshold:.3f} ({category_dev_accuracy:.3f})")
    assistant.config = dataclasses.replace(assistant.config, category_threshold=category_threshold)
    category_rows = []
    for kind in test_kinds:
        reply = assistant.turn("bench", f"k-{kind}", f"What {kind} do you have?")
        inside = [str(folders[kind]) in c.uri for c in reply.citations]
        category_rows.append(
            {"kind": kind, "grounding": reply.grounding, "cites_one_of_them": any(inside),
             "all_cited_are_of_that_kind": bool(inside) and all(inside), "answer": reply.answer}
        )  # fmt: skip
    absent_category_rows = []
    for k in absent_k[half_k:]:
        reply = assistant.turn("bench", f"ak-{k}", f"What {k} do you have?")
        absent_category_rows.append({"kind": k, "grounding": reply.grounding})
    report = {
        "categories": {
            "threshold": {
                "value": category_threshold,
                "dev_balanced_accuracy": category_dev_accuracy,
            },
            "dev": {"kinds": dev_kinds, "absent": absent_k[:half_k]},
            "test_kinds": len(category_rows),
            "test_absent_kinds": len(absent_category_rows),
            "cites_an_item_of_that_kind": _share(category_rows, lambda r: r["cites_one_of_them"]),
            "all_citations_of_that_kind": _share(
                category_rows, lambda r: r["all_cited_are_of_that_kind"]
            ),
            "not_found_on_absent_kinds": _share(
                absent_category_rows, lambda r: r["grounding"] == "not_found"
            ),
            "examples": category_rows[:6],
        },
        "library_items": library.index.count(),
        "threshold": {"value": threshold, "dev_balanced_accuracy": dev_accuracy},
        "dev_questions": {"in_library": len(dev_present), "absent": len(dev_absent)},
        "test": {
            "in_library_questions": len(present_rows),
            "absent_questions": len(absent_rows),
            "citation_accuracy": _share(present_rows, lambda r: r["cited_right_item"]),
            "first_result_accuracy": _share(present_rows, lambda r: r["first_result_right"]),
            "false_not_found_rate": _share(present_rows, lambda r: r["grounding"] == "not_found"),
            "model_answer_kept": _share(present_rows, lambda r: r["grounding"] == "model"),
            "not_found_rate_on_absent": _share(
                absent_rows, lambda r: r["grounding"] == "not_found"
            ),
        },
        "examples": {"in_library": present_rows[:10], "absent": absent_rows[:5]},
    }
    print(json.dumps(report["test"], indent=2))
    print(json.dumps({k: v for k, v in report["categories"].items() if k != "examples"}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grounded_qa.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))


def _share(rows: list[dict], test) -> float:
    return round(sum(map(test, rows)) / max(len(rows), 1), 3)


if __name__ == "__main__":
    main()
