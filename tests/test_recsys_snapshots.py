"""The fit job and snapshot serving: a real SQLite store, real implicit fits, real files."""

import json
import logging
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from recsys.errors import NoSnapshotError, RecsysError, SnapshotError
from recsys.models import gpu_available, make_model
from recsys.service import RecommendationService
from recsys.snapshots import LATEST, fit_periodically, fit_snapshot, latest_name, load_latest
from recsys.store import InteractionStore
from tests.test_recsys_models import two_taste_clusters
from tests.test_recsys_service import CATALOGUE, content_vectors, liked_store

FACTORS = 16  # not the default: a snapshot must carry its parameters


def served(store, models, **options) -> RecommendationService:
    return RecommendationService(
        store, CATALOGUE, content_vectors(CATALOGUE), snapshots=models, **options
    )


def test_a_fresh_service_serves_the_saved_model_without_fitting(tmp_path):
    store, models = liked_store(tmp_path), tmp_path / "models"
    snapshot = fit_snapshot(store, models, gpu=False, factors=FACTORS)
    assert (snapshot.name, latest_name(models)) == ("v000001", "v000001")
    assert snapshot.info["users"] == 20 and snapshot.info["device"] == "cpu"

    service = served(store, models)
    assert service.snapshot == "v000001"
    cf = service.hybrid.cf
    assert cf.items == CATALOGUE and cf.params["factors"] == FACTORS
    for item in snapshot.model.items:  # the saved factors, in the catalogue's order
        saved = snapshot.model.item_factors[snapshot.model.items.index(item)]
        np.testing.assert_array_equal(cf.item_factors[CATALOGUE.index(item)], saved)
    assert not cf.item_factors[CATALOGUE.index("a-new")].any()  # no events: no CF signal
    assert service._refit_thread is None
    recs = service.recommend("a-3", k=3)
    assert all(r.item.startswith("a") for r in recs), [r.item for r in recs]


def test_a_new_users_events_are_folded_in_without_a_refit(tmp_path):
    store, models = liked_store(tmp_path), tmp_path / "models"
    fit_snapshot(store, models, gpu=False, factors=FACTORS)
    service = served(store, models, refit_after=1)
    fitted = service.hybrid
    before = [r.item for r in service.recommend("newcomer", k=4)]
    assert all(r.because.startswith("popular") for r in service.recommend("newcomer", k=4))
    service.feedback("newcomer", "b0", "like")
    service.feedback("newcomer", "b2", "like")
    recs = service.recommend("newcomer", k=4)
    after = [r.item for r in recs]
    assert after != before
    assert all(item.startswith("b") for item in after), after
    assert max(r.cf_share for r in recs) > 0  # the folded-in user's CF scores count
    assert service.hybrid is fitted and service._refit_thread is None  # nothing refitted here


def test_a_newer_snapshot_is_picked_up_and_knows_the_new_events(tmp_path, caplog):
    store, models = liked_store(tmp_path), tmp_path / "models"
    fit_snapshot(store, models, gpu=False)
    service = served(store, models, poll_s=0)
    service.feedback("newcomer", "b0", "like")
    assert service.hybrid.cf.user_position("newcomer") == -1
    fit_snapshot(store, models, gpu=False)
    caplog.set_level(logging.INFO, logger="recsys.service")
    assert service.recommend("newcomer", k=2)  # answered while the new one loads
    service.wait_for_reload()
    assert service.snapshot == "v000002"
    (loaded,) = [r for r in caplog.records if "serving model snapshot v000002" in r.getMessage()]
    assert loaded.threadName == "recsys-snapshot"  # loaded off the request's thread
    assert service.hybrid.cf.user_position("newcomer") >= 0


def test_a_missing_or_corrupt_snapshot_falls_back_to_fitting_here(tmp_path, caplog):
    store, models = liked_store(tmp_path), tmp_path / "models"
    caplog.set_level(logging.INFO, logger="recsys.service")
    service = served(store, models)
    assert service.snapshot is None and service.hybrid.cf.fitted
    assert "no fitted model in" in caplog.text and "fitting in this process" in caplog.text
    with pytest.raises(NoSnapshotError, match="recommend fit"):
        load_latest(models)

    fit_snapshot(store, models, gpu=False)
    (models / "v000001" / "model" / "model.npz").write_bytes(b"not a zip file")
    caplog.clear()
    service = served(store, models, poll_s=0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "v000001 cannot be read" in warnings[0].getMessage()
    assert "fitting in this process instead" in warnings[0].getMessage()
    assert service.snapshot is None and service.hybrid.cf.fitted
    assert service.recommend("a-1", k=2)
    service.recommend("a-1", k=2)  # polls again: the same broken snapshot is not retried
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    fit_snapshot(store, models, gpu=False)  # a good one appears: it replaces the local fit
    service.recommend("a-1", k=2)
    service.wait_for_reload()
    assert service.snapshot == "v000002"
    with pytest.raises(SnapshotError, match="cannot be read"):
        (models / "v000002" / "snapshot.json").write_text("{")
        load_latest(models)


def test_a_snapshot_deleted_under_its_name_falls_back_with_a_warning(tmp_path, caplog):
    store, models = liked_store(tmp_path), tmp_path / "models"
    fit_snapshot(store, models, gpu=False)
    (models / LATEST).write_text("v000009")  # names a folder that is gone
    caplog.set_level(logging.WARNING, logger="recsys.service")
    service = served(store, models)
    assert service.snapshot is None and service.hybrid.cf.fitted
    assert "v000009 cannot be read" in caplog.text


def test_snapshots_are_versioned_pruned_and_never_half_written(tmp_path):
    store, models = liked_store(tmp_path), tmp_path / "models"
    for _ in range(4):
        fit_snapshot(store, models, gpu=False, keep=2)
    names = sorted(p.name for p in models.iterdir())
    assert names == [LATEST, "v000003", "v000004"]  # no temporary folders or files left
    assert (models / LATEST).read_text() == "v000004"
    info = json.loads((models / "v000004" / "snapshot.json").read_text())
    assert info["store_events"] == store.count() and info["version"] == "v000004"


def test_an_empty_store_has_nothing_to_fit(tmp_path):
    store = InteractionStore.in_data_dir(tmp_path)
    store.log("u", "i", "view")  # a view says nothing about taste
    with pytest.raises(SnapshotError, match="nothing to fit"):
        fit_snapshot(store, tmp_path / "models")
    assert not (tmp_path / "models" / LATEST).exists()


def test_the_periodic_job_refits_only_when_events_other_than_views_came_in(tmp_path):
    store, models = liked_store(tmp_path), tmp_path / "models"
    stop = threading.Event()
    job = threading.Thread(
        target=fit_periodically, args=(store, models, 0.05, stop), kwargs={"gpu": False}
    )
    job.start()
    try:
        _wait_for(lambda: latest_name(models) == "v000001")
        time.sleep(0.5)  # several rounds without new events
        assert latest_name(models) == "v000001"
        store.log("browser", "a0", "view")  # results shown: a view weighs nothing in the fit
        time.sleep(0.5)
        assert latest_name(models) == "v000001"
        store.log("newcomer", "a0", "like")
        _wait_for(lambda: latest_name(models) == "v000002")
    finally:
        stop.set()
        job.join(30)
    assert not job.is_alive()


def test_the_cli_fits_and_reports_errors(tmp_path):
    home = tmp_path / "home"
    liked_store(home)
    env = {**os.environ, "CROSSMEDIA_HOME": str(home), "OPENBLAS_NUM_THREADS": "1"}
    for name in ("CROSSMEDIA_RECSYS_MODELS", "CROSSMEDIA_DATABASE_URL"):
        env.pop(name, None)

    def crossmedia(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "ui.cli", "recommend", "fit", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    done = crossmedia("--cpu", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["path"] == str(home / "recsys-models" / "v000001")
    assert summary["users"] == 20 and summary["device"] == "cpu"
    other = tmp_path / "shared-models"
    done = crossmedia("--cpu", "--models", str(other))
    assert done.returncode == 0 and "fitted on the CPU" in done.stdout
    assert latest_name(other) == "v000001"
    empty = crossmedia("--database-url", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert empty.returncode == 2
    assert "crossmedia: error:" in empty.stderr and "nothing to fit" in empty.stderr


def test_the_cli_shows_no_blas_thread_warning(tmp_path):
    """Seen with `crossmedia ask` in a plain shell: implicit printed "OpenBLAS is configured to
    use 2 threads. It is highly recommended to disable its internal threadpool ..." under the
    answer, advice meant for developers. The app runs BLAS on one thread unless the user set
    OPENBLAS_NUM_THREADS, as implicit asks."""
    home = tmp_path / "home"
    liked_store(home)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["CROSSMEDIA_HOME"] = str(home)  # as in a plain shell: no OPENBLAS_NUM_THREADS
    for name in ("CROSSMEDIA_RECSYS_MODELS", "CROSSMEDIA_DATABASE_URL"):
        env.pop(name, None)
    command = [sys.executable, "-m", "ui.cli", "recommend", "fit", "--cpu", "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "OpenBLAS" not in done.stderr and "Warning" not in done.stderr, done.stderr
    assert json.loads(done.stdout)["users"] == 20


@pytest.mark.skipif(gpu_available(), reason="this machine has CUDA: the GPU test below runs")
def test_asking_for_the_gpu_without_cuda_says_how_to_get_it():
    with pytest.raises(RecsysError, match="implicit built with CUDA"):
        make_model("als", gpu=True).fit(two_taste_clusters())


@pytest.mark.skipif(not gpu_available(), reason="implicit has no CUDA here")
def test_a_gpu_fit_finds_the_same_tastes_as_the_cpu():
    data = two_taste_clusters()
    model = make_model("als", gpu=True).fit(data)
    assert isinstance(model.item_factors, np.ndarray)  # copied back: fold-in runs on the CPU
    scores = model.scores(data.matrix, np.arange(len(data.users)))
    for n, user in enumerate(data.users):
        best = data.items[
            int(np.argmax(np.where(data.matrix[n].toarray()[0] > 0, -1e9, scores[n])))
        ]
        assert best[0] == user[0], (user, best)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
