import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.discovery import discover
from retrieval.encoders import load_encoder
from retrieval.errors import DatasetError
from retrieval.index import MediaIndex
from retrieval.ingest import Ingestor
from retrieval.items import MediaItem, caption_language
from tests.conftest import draw_picture

KEYWORDS = ("frog", "guitar", "banana", "sports car", "saturn")


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, stamps_root):
    """A folder of real Tux Paint stamps with their sidecars, plus a duplicate and bad files."""
    root = tmp_path_factory.mktemp("library")
    stamps = captioned_stamps(stamps_root)
    copied = []
    for keyword in KEYWORDS:
        path = next(p for p, c in stamps if keyword in c.lower())
        copied.append(shutil.copy(path, root / path.name))
        shutil.copy(path.with_suffix(".txt"), root / path.with_suffix(".txt").name)
    svg = next(p for p, _ in stamps if p.suffix == ".svg")
    shutil.copy(svg, root / svg.name)
    shutil.copy(svg.with_suffix(".txt"), root / svg.with_suffix(".txt").name)
    (root / "copies").mkdir()
    frog = Path(copied[0])
    shutil.copy(frog, root / "copies" / "same-frog.png")  # same bytes -> duplicate
    (root / "broken.png").write_bytes(frog.read_bytes()[:200])
    (root / "letter.jpg").write_text("Dear user, this is not a picture.")
    (root / "readme.md").write_text("not media")  # not an image suffix: ignored
    return root


def test_folder_ingest_reports_and_search_finds_by_text(tmp_path, small_library, default_encoder):
    index = MediaIndex(tmp_path / "idx", encoder_name=default_encoder.name, dim=default_encoder.dim)
    report = Ingestor(index, default_encoder, batch_size=4).ingest(
        discover(small_library), progress=False
    )
    assert report.added == len(KEYWORDS) + 1
    assert report.duplicates == 1
    refused = dict(report.refused)
    assert set(refused) == {str(small_library / "broken.png"), str(small_library / "letter.jpg")}
    assert "not a PNG" in refused[str(small_library / "letter.jpg")]
    assert index.count() == len(KEYWORDS) + 1

    query = default_encoder.encode_texts(["a frog"])[0]
    best = index.query(query, k=1)[0]
    assert "frog" in best.caption.lower() and best.modality == "image"
    image_only = index.query(query, k=1, kinds=("content",))[0]
    assert "frog" in image_only.caption.lower()  # found by the picture, not only by its caption

    again = Ingestor(index, default_encoder).ingest(discover(small_library), progress=False)
    assert again.added == 0 and again.duplicates == len(KEYWORDS) + 2
    assert index.count() == len(KEYWORDS) + 1


def test_manifest_jsonl_and_csv(tmp_path):
    pic = draw_picture(tmp_path / "ball.png")
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"image": "ball.png", "caption": "a red ball", "author": "me", "year": 2020})
        + "\n"
        + json.dumps({"text": "A note about balls.", "lang": "en"})
        + "\n"
    )
    records = discover(tmp_path / "m.jsonl")
    assert [r.modality for r in records] == ["image", "text"]
    assert records[0].path == pic and records[0].metadata == {"author": "me", "year": 2020}
    assert records[1].caption == "A note about balls."
    (tmp_path / "m.csv").write_text("image,caption,licence\nball.png,a red ball,CC0\n,,\n")
    empty_row = discover(tmp_path / "m.csv")[1]  # refused, with its line, not fatal
    assert empty_row.label == f"{tmp_path / 'm.csv'}:3" and "exactly one of" in empty_row.problem
    (tmp_path / "ok.csv").write_text("image,caption,licence\nball.png,a red ball,CC0\n")
    assert discover(tmp_path / "ok.csv")[0].metadata == {"licence": "CC0"}

    encoder = load_encoder("random:16")
    index = MediaIndex(tmp_path / "idx", encoder_name=encoder.name, dim=encoder.dim)
    report = Ingestor(index, encoder).ingest(records, progress=False)
    assert report.added == 2
    text_hit = index.query(encoder.encode_texts(["A note about balls."])[0], k=1)[0]
    assert text_hit.modality == "text" and text_hit.metadata == {"lang": "en"}


def test_bad_manifests_and_paths_are_refused_clearly(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"image": "a.png"}\nnot json\n')
    bad_line = discover(tmp_path / "bad.jsonl")[1]
    assert bad_line.label.endswith("bad.jsonl:2") and "not valid JSON" in bad_line.problem
    with pytest.raises(DatasetError, match="no such file"):
        discover(tmp_path / "missing")
    (tmp_path / "notes.doc").write_text("x")
    with pytest.raises(DatasetError, match="give a folder"):
        discover(tmp_path / "notes.doc")


def test_missing_file_in_manifest_is_refused_not_fatal(tmp_path):
    draw_picture(tmp_path / "ok.png")
    lines = [{"image": "ok.png", "caption": "fine"}, {"image": "gone.png", "caption": "missing"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    encoder = load_encoder("random:16")
    index = MediaIndex(tmp_path / "idx", encoder_name=encoder.name, dim=encoder.dim)
    report = Ingestor(index, encoder).ingest(discover(tmp_path / "m.jsonl"), progress=False)
    assert report.added == 1
    assert report.refused == [(str(tmp_path / "gone.png"), "file not found")]


def test_folder_audio_modes(tmp_path):
    draw_picture(tmp_path / "frog.png")
    for name in ("frog.ogg", "lonely_sound.ogg", "talk.wav"):
        (tmp_path / name).write_bytes(b"placeholder")
    (tmp_path / "talk.txt").write_text("A talk about frogs.\nde.utf8=Ein Vortrag\n")

    def kinds(mode):
        return sorted((r.modality, r.path.name, r.caption) for r in discover(tmp_path, mode))

    assert kinds("none") == [("image", "frog.png", "")]
    assert kinds("paired") == [("audio", "frog.ogg", "frog"), ("image", "frog.png", "")]
    assert ("audio", "lonely_sound.ogg", "lonely sound") in kinds("all")
    assert ("audio", "talk.wav", "A talk about frogs.") in kinds("all")


def test_spoken_descriptions_are_captioned_by_their_stamps_sidecar(tmp_path, stamps_root):
    """Found in the browser: a folder ingest named Tux Paint's recorded descriptions after their
    files, so a French question about frogs cited "frog 1 desc be" and "frog desc". A
    ``NAME_desc.ogg`` (English) or ``NAME_desc_LL.ogg`` beside ``NAME.txt`` is that stamp's
    description said aloud: its caption is the sidecar's line in the language spoken."""
    frogs = stamps_root / "animals" / "amphibians"
    for name in ("frog.png", "frog.txt", "frog_desc.ogg", "frog_desc_fr.ogg", "frog_desc_be.ogg",
                 "frog-1.txt", "frog-1_desc_es.ogg", "frog_desc_xx.ogg"):  # fmt: skip
        shutil.copy(frogs / name.replace("_xx", "_nl"), tmp_path / name)
    shutil.copy(frogs / "frog_desc.ogg", tmp_path / "lonely_desc_fr.ogg")  # no lonely.txt
    records = {r.path.name: r for r in discover(tmp_path) if r.modality == "audio"}

    assert records["frog_desc.ogg"].caption == "A frog."
    assert records["frog_desc_fr.ogg"].caption == "Une grenouille."
    assert records["frog_desc_be.ogg"].caption == "Жаба."
    assert records["frog-1_desc_es.ogg"].caption == "Una rana."
    assert records["frog_desc_fr.ogg"].metadata["spoken_language"] == "fr"
    assert records["frog_desc.ogg"].metadata["spoken_language"] == "en"
    # named in the asker's language like the stamp itself
    assert records["frog_desc_be.ogg"].metadata["caption_fr"] == "Une grenouille."
    # a language the sidecar has no line for: the English description, the language kept
    assert records["frog_desc_xx.ogg"].caption == "A frog."
    assert records["frog_desc_xx.ogg"].metadata["spoken_language"] == "xx"
    # no sidecar: the file's name, as for any other sound
    assert records["lonely_desc_fr.ogg"].caption == "lonely desc fr"


def test_a_description_heard_in_another_language_is_indexed_by_what_it_says(
    tmp_path, stamps_root, default_encoder
):
    """English-only Whisper hears the French "Une grenouille." as "In Grand New Year.", and that
    was the recording's content vector. Where a recording's language is known from its name
    and the transcriber heard another one, its caption (what the sidecar says is spoken) is
    indexed instead; a transcript in the right language is kept."""
    from assistant.speech import load_transcriber

    frogs = stamps_root / "animals" / "amphibians"
    for name in ("frog.txt", "frog_desc.ogg", "frog_desc_fr.ogg"):
        shutil.copy(frogs / name, tmp_path / name)
    index = MediaIndex(tmp_path / "idx", encoder_name=default_encoder.name, dim=default_encoder.dim)
    report = Ingestor(index, default_encoder, transcribe=load_transcriber().transcribe).ingest(
        discover(tmp_path), progress=False
    )
    assert report.added == 2, report.summary()
    by_name = {Path(i.uri).name: i for i in index.items_where({"modality": "audio"})}
    french, english = by_name["frog_desc_fr.ogg"], by_name["frog_desc.ogg"]
    assert french.metadata["transcript"] == "" and french.metadata["is_speech"] is True
    assert "frog" in str(english.metadata["transcript"]).lower()
    query = default_encoder.encode_texts(["Une grenouille."])[0]
    best = index.query(query, k=1, kinds=("content",))[0]
    assert Path(best.uri).name == "frog_desc_fr.ogg"
    assert best.score > 0.99  # the caption's own vector


def test_a_caption_whose_language_its_source_gives_is_read_in_that_language(
    tmp_path, stamps_root, default_encoder
):
    """A first start spent 40 s building German, French and Spanish word tables because the
    language identifier took the English stamp names "Anthurium", "Hibiscus" and "Balsam." for
    other languages, and their vectors were the student's reading (cosine 0.78 to the
    English tower's). A Tux Paint sidecar's untagged first line is English by its layout, a
    recorded description's caption is in its own language, and a manifest may say
    (``caption_language``); a plain sidecar of one line says nothing and is identified."""
    flowers, frogs = stamps_root / "plants" / "flowers", stamps_root / "animals" / "amphibians"
    for name in ("anthoorium.png", "anthoorium.txt"):
        shutil.copy(flowers / name, tmp_path / name)
    for name in ("frog.txt", "frog_desc_fr.ogg"):
        shutil.copy(frogs / name, tmp_path / name)
    shutil.copy(frogs / "frog_desc_fr.ogg", tmp_path / "frog_desc_xx.ogg")  # no line for "xx"
    draw_picture(tmp_path / "mine.png")
    (tmp_path / "mine.txt").write_text("Une grenouille rouge\n", encoding="utf-8")
    records = {r.path.name: r for r in discover(tmp_path, audio="all")}
    assert records["anthoorium.png"].caption == "Anthurium"
    assert records["anthoorium.png"].metadata["caption_language"] == "en"
    assert records["frog_desc_fr.ogg"].metadata["caption_language"] == "fr"
    assert records["frog_desc_xx.ogg"].metadata["caption_language"] == "en"  # the English line
    assert "caption_language" not in records["mine.png"].metadata

    index = MediaIndex(tmp_path / "idx", encoder_name=default_encoder.name, dim=default_encoder.dim)
    pictures = [r for r in records.values() if r.modality == "image"]
    Ingestor(index, default_encoder).ingest(pictures, progress=False)
    english = default_encoder.encode_texts_in(["Anthurium"], "en")[0]
    guessed = default_encoder.encode_texts(["Anthurium"])[0]
    assert float(english @ guessed) < 0.95  # the two readings differ: the test can tell them
    best = index.query(english, k=1, kinds=("caption",))[0]
    assert Path(best.uri).name == "anthoorium.png" and best.score > 0.999


def test_a_transcript_is_read_in_the_language_it_was_heard_in(
    tmp_path, stamps_root, default_encoder
):
    """English-only Whisper hears Tux Paint's dreidel letter "Shin" as "Shen.", which the
    identifier took for German: a first start built the German word table for it and stored
    the student's reading. The transcriber says which language it heard; the transcript is
    read in that one and the item keeps it (``transcript_language``)."""
    from assistant.speech import load_transcriber

    shutil.copy(stamps_root / "seasonal" / "hanukkah" / "dreydl-shin.ogg", tmp_path / "shin.ogg")
    index = MediaIndex(tmp_path / "idx", encoder_name=default_encoder.name, dim=default_encoder.dim)
    report = Ingestor(index, default_encoder, transcribe=load_transcriber().transcribe).ingest(
        discover(tmp_path), progress=False
    )
    assert report.added == 1, report.summary()
    item = index.items_where({"modality": "audio"})[0]
    transcript = str(item.metadata["transcript"])
    assert transcript and item.metadata["transcript_language"] == "en"
    heard = default_encoder.encode_texts_in([transcript], "en")[0]
    best = index.query(heard, k=1, kinds=("content",))[0]
    assert best.score > 0.999, transcript


@pytest.mark.parametrize(
    ("given", "code"),
    [("en", "en"), ("fr_FR", "fr"), ("pt-BR", "pt"), (" ZH ", "zh"), ("English", None), ("", None),
     (3, None), ("c'est", None)],
)  # fmt: skip
def test_a_manifests_caption_language_is_read_as_an_iso_code(given, code):
    """A manifest's ``caption_language`` column is a locale or an ISO 639 code; anything else is
    not a language the encoder could be told, and the caption is identified as before."""
    item = MediaItem("id", "image", "x.png", "caption", metadata={"caption_language": given})
    assert caption_language(item) == code


def test_audio_without_a_transcriber_is_refused_not_fatal(tmp_path):
    (tmp_path / "clip.wav").write_bytes(b"RIFF....")
    encoder = load_encoder("random:16")
    index = MediaIndex(tmp_path / "idx", encoder_name=encoder.name, dim=encoder.dim)
    report = Ingestor(index, encoder).ingest(discover(tmp_path / "clip.wav"), progress=False)
    assert report.added == 0 and "transcriber" in report.refused[0][1]


def test_a_second_ingest_gives_stored_items_their_sidecars_translations(tmp_path, stamps_root):
    """Items ingested before captions in other languages were kept (or before their sidecar had
    any) kept answering in English ("Voici a frog") and matched no French words until the index
    was made anew. A later ingest of the same files now gives every entry of the stored item
    (its picture's and its caption's vectors) the sidecar's translations, keeping
    its vectors; an item whose translations did not change is left alone."""
    from retrieval.caption_words import CaptionWords
    from retrieval.encoders import load_encoder

    encoder = load_encoder("random:16")
    frog = next(p for p, c in captioned_stamps(stamps_root) if p.stem == "frog")
    folder = tmp_path / "library"
    folder.mkdir()
    shutil.copy(frog, folder / "frog.png")
    (folder / "frog.txt").write_text("A frog.\n", encoding="utf-8")
    draw_picture(folder / "red.png")
    (folder / "red.txt").write_text("A red ball.\nfr.utf8=Une balle rouge.\n", encoding="utf-8")
    index = MediaIndex(tmp_path / "idx", encoder_name=encoder.name, dim=encoder.dim)
    Ingestor(index, encoder).ingest(discover(folder), progress=False)
    ids = {Path(i.uri).stem: i.id for i in index.get_many(index.vectors()[0]).values()}
    assert "caption_fr" not in index.get(ids["frog"]).metadata
    vectors = dict(zip(*index.vectors("caption"), strict=True))

    (folder / "frog.txt").write_text("A frog.\nfr.utf8=Une grenouille.\n", encoding="utf-8")
    again = Ingestor(index, encoder).ingest(discover(folder), progress=False)
    assert again.added == 0 and again.duplicates == 2
    stored = index.get(ids["frog"])
    assert stored.metadata["caption_fr"] == "Une grenouille." and stored.caption == "A frog."
    hit = index.query(vectors[ids["frog"]], k=1, kinds=("caption",))[0]
    assert hit.item_id == ids["frog"] and hit.metadata["caption_fr"] == "Une grenouille."
    assert np.array_equal(dict(zip(*index.vectors("caption"), strict=True))[ids["frog"]],
                          vectors[ids["frog"]])  # fmt: skip
    assert index.get(ids["red"]).metadata["caption_fr"] == "Une balle rouge."
    found = CaptionWords(*index.captions_in("fr"), "fr").match("une grenouille")
    assert next(iter(found)) == ids["frog"]


def test_pictures_are_stored_with_their_colours_and_old_indexes_get_them(tmp_path):
    """ "Do you have anything yellow?" found nothing: the space barely knows colours. Ingest
    now keeps each picture's colours; items stored before that get them from a later ingest
    of the same files, their vectors kept."""
    from retrieval.colours import PictureColours
    from retrieval.encoders import load_encoder
    from retrieval.items import COLOURS_KEY

    encoder = load_encoder("random:16")
    folder = tmp_path / "library"
    folder.mkdir()
    for name, colour in (("ball", "red"), ("lemon", "yellow"), ("sea", "blue")):
        draw_picture(folder / f"{name}.png", colour)
    index = MediaIndex(tmp_path / "idx", encoder_name=encoder.name, dim=encoder.dim)
    Ingestor(index, encoder).ingest(discover(folder), progress=False)
    items = index.get_many(index.vectors()[0]).values()
    ids = {Path(i.uri).stem: i.id for i in items}
    assert {Path(i.uri).stem: i.metadata[COLOURS_KEY] for i in items} == {
        "ball": "red", "lemon": "yellow", "sea": "blue"
    }  # fmt: skip
    assert PictureColours(*index.texts_of(COLOURS_KEY)).match("anything yellow?") == {
        ids["lemon"]: 1.0
    }

    index.update_metadata({ids["sea"]: {COLOURS_KEY: ""}})  # as an index made before colours
    vectors = dict(zip(*index.vectors("content"), strict=True))
    again = Ingestor(index, encoder).ingest(discover(folder), progress=False)
    assert again.added == 0 and again.duplicates == 3
    assert index.get(ids["sea"]).metadata[COLOURS_KEY] == "blue"
    assert np.array_equal(dict(zip(*index.vectors("content"), strict=True))[ids["sea"]],
                          vectors[ids["sea"]])  # fmt: skip
