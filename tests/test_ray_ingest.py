"""Ingest on Ray (retrieval/ray_ingest.py): a real local Ray cluster, a real Chroma server, real
Tux Paint stamps and the real packaged models; the workers run the same pipeline as a local
ingest, batches are committed as units, and a rerun after a failure finishes without
duplicates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ray

from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.discovery import discover
from retrieval.errors import ClusterError, IngestIncompleteError
from retrieval.index import MediaIndex
from retrieval.ingest import IngestReport
from retrieval.library import Library, LibraryConfig
from retrieval.ray_ingest import IngestOptions, RayIngest, ingest_on_ray
from tests.serving import chroma_served, free_port

KEYWORDS = ("frog", "guitar", "banana", "saturn", "duck", "tractor")
PICTURES = len(KEYWORDS)
BATCH = 2


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of two CPUs for this module (workers start in this checkout)."""
    ray.init(
        address="local",  # a new cluster, never one that `ray start` left on this machine
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, stamps_root) -> Path:
    """Six captioned stamps, a frog's croak (an item only where a transcriber is given), a
    truncated picture and a text file posing as a JPEG."""
    root = tmp_path_factory.mktemp("ray-library")
    stamps = [(p, c) for p, c in captioned_stamps(stamps_root) if p.suffix == ".png"]
    for keyword in KEYWORDS:
        path = next(p for p, c in stamps if keyword in c.lower())
        shutil.copy(path, root / path.name)
        shutil.copy(path.with_suffix(".txt"), root / path.with_suffix(".txt").name)
    croak = next(p for p, _ in stamps if p.stem == "frog").with_suffix(".ogg")
    shutil.copy(croak, root / "zz-croak.ogg")  # sorts after the pictures
    (root / "zz-croak.txt").write_text("A frog croaking.\n")
    (root / "broken.png").write_bytes(stamps[0][0].read_bytes()[:200])
    (root / "letter.jpg").write_text("Dear user, this is not a picture.")
    return root


@pytest.fixture(scope="module")
def local(tmp_path_factory, folder, model_cache) -> tuple[Library, IngestReport]:
    """The same folder ingested by the local pipeline into an embedded index."""
    library = Library(LibraryConfig(tmp_path_factory.mktemp("local"), "default", None, model_cache))
    return library, library.ingest(folder, progress=False, batch_size=BATCH)


@pytest.fixture
def chroma_url(tmp_path):
    with chroma_served(tmp_path) as server:
        yield server.url


def server_index(url: str, library: Library) -> MediaIndex:
    return MediaIndex(url=url, encoder_name=library.encoder.name, dim=library.encoder.dim)


def config_for(url: str | None, home: Path, model_cache: Path) -> LibraryConfig:
    return LibraryConfig(home, "default", url, model_cache)


def test_workers_store_what_a_local_ingest_stores_and_a_rerun_adds_nothing(
    cluster, folder, local, chroma_url, tmp_path, model_cache
):
    library, local_report = local
    options = IngestOptions(batch_size=BATCH)
    with RayIngest(config_for(chroma_url, tmp_path, model_cache), 2, options) as pool:
        report = pool.ingest(discover(folder), progress=False)
        again = pool.ingest(discover(folder), progress=False)
    assert (report.added, report.duplicates) == (PICTURES, 0) == (local_report.added, 0)
    assert sorted(report.refused) == sorted(local_report.refused)
    refused = {Path(where).name: why for where, why in report.refused}
    assert set(refused) == {"broken.png", "letter.jpg", "zz-croak.ogg"}
    assert "speech transcriber" in refused["zz-croak.ogg"]  # none given, as locally
    server = server_index(chroma_url, library)
    for kind in ("content", "caption", "fused"):
        ids, vectors = server.vectors(kind)
        local_ids, local_vectors = library.index.vectors(kind)
        assert sorted(ids) == sorted(local_ids) and len(ids) == PICTURES
        order = [local_ids.index(i) for i in ids]
        np.testing.assert_allclose(vectors, local_vectors[order], atol=1e-4)
    assert server.get_many(ids) == library.index.get_many(ids)  # captions, uris, metadata
    assert (again.added, again.duplicates, len(again.refused)) == (0, PICTURES, 3)
    assert server.count() == PICTURES


def test_a_killed_worker_loses_only_its_batch_and_a_rerun_finishes_without_duplicates(
    cluster, folder, local, chroma_url, tmp_path, model_cache
):
    library, _ = local
    records = discover(folder)
    with RayIngest(config_for(chroma_url, tmp_path, model_cache), 2, IngestOptions(BATCH)) as pool:
        killed: list[int] = []

        def kill_after_its_first_batch(done) -> None:
            if not killed:  # the worker is killed as its next batch is handed to it
                killed.append(done.worker)
                ray.kill(pool.workers[done.worker])

        with pytest.raises(IngestIncompleteError, match="worker died") as stopped:
            pool.ingest(records, progress=False, on_batch=kill_after_its_first_batch)
        assert "run the same command again" in str(stopped.value)
        assert stopped.value.unfinished == BATCH  # the batch it was handed; the rest went on
        first = stopped.value.report
        server = server_index(chroma_url, library)
        assert server.count() == first.added == PICTURES - BATCH  # two batches of pictures
        assert len(first.refused) == 3  # the surviving worker reached the bad files
        rerun = pool.ingest(records, progress=False)  # the survivor finishes the rest
    assert (rerun.added, rerun.duplicates) == (BATCH, first.added)
    assert not set(first.added_ids) & set(rerun.added_ids)
    assert sorted(server.vectors("content")[0]) == sorted(library.index.vectors("content")[0])
    assert server.count() == PICTURES


def test_an_index_that_goes_away_stops_the_run_and_a_rerun_resumes(
    cluster, folder, local, tmp_path, model_cache
):
    library, _ = local
    port = free_port()
    records = discover(folder)
    with chroma_served(tmp_path, port) as server:
        pool = RayIngest(config_for(server.url, tmp_path, model_cache), 1, IngestOptions(BATCH))
        with pytest.raises(IngestIncompleteError, match="index") as stopped:
            # the server stops after the first batch: the next one fails at the index, and the
            # run stops there instead of failing every batch in turn
            pool.ingest(records, progress=False, on_batch=lambda _done: server.stop())
        assert stopped.value.report.added == BATCH
        assert stopped.value.unfinished == len(records) - BATCH
    try:
        with chroma_served(tmp_path, port) as server:  # the same server, started again
            rerun = pool.ingest(records, progress=False)
            assert (rerun.added, rerun.duplicates) == (PICTURES - BATCH, BATCH)
            assert server_index(server.url, library).count() == PICTURES
    finally:
        pool.close()


def test_workers_of_a_local_cluster_may_share_the_embedded_index(
    cluster, folder, local, tmp_path, model_cache
):
    library, _ = local
    config = config_for(None, tmp_path, model_cache)
    with RayIngest(config, 2, IngestOptions(BATCH)) as pool:
        report = pool.ingest(discover(folder), progress=False)
    assert (report.added, report.duplicates, len(report.refused)) == (PICTURES, 0, 3)
    embedded = MediaIndex(
        config.index_dir, encoder_name=library.encoder.name, dim=library.encoder.dim
    )
    assert sorted(embedded.vectors("content")[0]) == sorted(library.index.vectors("content")[0])


def test_the_command_ingests_with_workers_of_a_running_cluster(
    cluster, folder, local, chroma_url, tmp_path, model_cache, run
):
    result = run(
        "ingest", str(folder), "--ray", cluster, "--ray-workers", "1",
        "--chroma-url", chroma_url, "--batch-size", "4", "--json",
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["added"] == PICTURES + 1 and report["duplicates"] == 0  # the croak is heard
    assert sorted(Path(r["source"]).name for r in report["refused"]) == [
        "broken.png",
        "letter.jpg",
    ]
    server = server_index(chroma_url, local[0])
    [sound] = server.get_many(server.ids_of("audio", 5)).values()  # transcribed in a worker
    assert sound.caption == "A frog croaking." and "is_speech" in sound.metadata
    with pytest.raises(ClusterError, match="--chroma-url"):
        ingest_on_ray(config_for(None, tmp_path, model_cache), folder, address=cluster)


def test_a_cluster_address_where_nothing_answers_fails_at_once(folder, chroma_url, run):
    nobody = f"127.0.0.1:{free_port()}"
    result = run("ingest", str(folder), "--ray", nobody, "--chroma-url", chroma_url, check=False)
    assert result.returncode == 2
    assert f"nothing answers at {nobody}" in result.stderr and "ray start --head" in result.stderr


def test_without_ray_the_command_says_how_to_install_it(folder, tmp_path):
    hide_ray = (
        "import sys; sys.modules['ray'] = None; from ui.cli import main; "
        f"sys.exit(main(['ingest', {str(folder)!r}, '--ray', '--data-dir', {str(tmp_path)!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_ray], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert 'pip install "crossmedia[ray]"' in result.stderr


def test_a_worker_keeps_to_its_share_of_cpus(cluster):
    @ray.remote(num_cpus=1)
    def threads() -> tuple[int, int, int]:
        import torch

        from assistant.speech.faster import FasterWhisperTranscriber
        from retrieval.ocr import TextReader

        whisper = FasterWhisperTranscriber()  # the packaged tiny.en, as ingest transcribes
        return torch.get_num_threads(), TextReader().threads, whisper.cpu_threads

    assert ray.get(threads.remote()) == (1, 1, 1)  # PyTorch, the OCR models and Whisper alike


def test_merged_reports_count_an_item_two_workers_stored_at_once_only_once():
    total = IngestReport()
    total.merge(IngestReport(added=2, added_ids=["a", "b"], refused=[("x.png", "corrupt")]))
    total.merge(IngestReport(added=1, duplicates=1, added_ids=["b"]))
    total.merge(IngestReport(added=1, added_ids=["c"]))
    assert (total.added, total.duplicates, total.added_ids) == (3, 2, ["a", "b", "c"])
    assert total.refused == [("x.png", "corrupt")]
