"""Fitted-model snapshots: a fit job writes them out of the request path, servers read them.

``fit_snapshot`` (``crossmedia recommend fit``) fits ALS on every event of the interaction store
and writes a snapshot; each serving process (``RecommendationService(snapshots=DIR)``) loads the
newest at start, swaps in a newer one when it appears, and folds each user's current events in
at request time (ALS ``recalculate_user``) instead of refitting. Layout of ``DIR``::

    DIR/v000003/    model (CFModel.save: meta.json, model.npz), positive.npz, snapshot.json
    DIR/LATEST      "v000003", the newest complete snapshot

A snapshot is written into a temporary folder inside ``DIR`` and renamed into place, then
``LATEST`` is replaced by a rename too, so a reader sees the old snapshot or the new one, never
a half-written one (``DIR`` must be one filesystem: a local disk or a shared volume). Snapshots
older than the newest ``keep`` are deleted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from recsys.errors import NoSnapshotError, RecsysError, SnapshotError
from recsys.events import EventKind
from recsys.matrix import UserItems
from recsys.models import CFModel, make_model
from recsys.signals import DEFAULT_SIGNALS, SignalWeights, weighed_triples
from recsys.store import InteractionStore

log = logging.getLogger(__name__)
SNAPSHOT_DIRNAME = "recsys-models"  # the default folder, inside the data directory
LATEST = "LATEST"
KEEP = 3
FIT_HINT = "run `crossmedia recommend fit` to write one"


@dataclass
class Snapshot:
    """A fitted CF model and the positive cells of the matrix it was fitted on."""

    name: str
    model: CFModel
    positive: UserItems  # users x the model's items: 1 where the user showed interest
    info: dict

    def summary(self) -> str:
        """One line: its size, device and fit time."""
        info = self.info
        return (
            f"{info['users']:,} users x {info['items']:,} items, {info['nonzeros']:,} cells, "
            f"fitted on the {info['device'].upper()} in {info['fit_s']:.1f} s"
        )

    def aligned_to(self, items: list[str]) -> tuple[CFModel, UserItems]:
        """The model and matrix over a catalogue's items, in its order (items the model never
        saw get no CF signal; items not in the catalogue are dropped)."""
        model = self.model.aligned_to(items)  # type: ignore[attr-defined]
        if items == self.positive.items:
            return model, self.positive
        columns = np.full(len(self.positive.items), -1)
        position = {item: n for n, item in enumerate(items)}
        for old, item in enumerate(self.positive.items):
            columns[old] = position.get(item, -1)
        coo = self.positive.matrix.tocoo()
        keep = columns[coo.col] >= 0
        matrix = csr_matrix(
            (coo.data[keep], (coo.row[keep], columns[coo.col[keep]])),
            shape=(len(self.positive.users), len(items)),
        )
        return model, UserItems(matrix, self.positive.users, list(items))


def fit_snapshot(
    store: InteractionStore,
    directory: str | Path,
    signals: SignalWeights = DEFAULT_SIGNALS,
    seed: int = 0,
    gpu: bool | None = None,
    keep: int = KEEP,
    **params: float,
) -> Snapshot:
    """Fit ALS on every event of ``store`` (on the GPU where implicit has CUDA, unless ``gpu``
    says otherwise; ``params``: ALS factors, regularization, iterations, alpha) and save it."""
    started = time.perf_counter()
    events, signalled = store.count(), store.count(without=(EventKind.VIEW,))
    triples = weighed_triples(store.events(), signals)
    if not triples:
        raise SnapshotError(
            f"the interaction store at {store.location} holds no likes, clicks, plays or "
            "ratings yet: nothing to fit (recommendations use content and popularity until then)"
        )
    users = sorted({t[0] for t in triples})
    items = sorted({t[1] for t in triples})
    data = UserItems.from_triples(triples, users=users, items=items)
    read_s = time.perf_counter() - started
    model = make_model("als", seed, gpu=gpu, **params)
    log.info(
        "fitting ALS on %d users x %d items (%d cells) on the %s",
        len(users), len(items), data.matrix.nnz, "GPU" if model.gpu else "CPU",
    )  # fmt: skip
    model.fit(data)
    info = {
        "model": model.name,
        "device": "gpu" if model.gpu else "cpu",
        "store_events": events,
        "store_events_not_views": signalled,  # views carry no confidence: they refit nothing
        "users": len(users),
        "items": len(items),
        "nonzeros": int(data.matrix.nnz),
        "read_s": round(read_s, 3),
        "fit_s": round(time.perf_counter() - started - read_s, 3),
        "fitted_at": time.time(),
    }
    return save_snapshot(directory, model, data, info, keep)


def save_snapshot(
    directory: str | Path, model: CFModel, data: UserItems, info: dict, keep: int = KEEP
) -> Snapshot:
    """Write a fitted model and its matrix as the next version, atomically; returns it."""
    directory = Path(directory)
    staging: Path | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=directory))
        model.save(staging / "model")
        positive = (data.matrix > 0).tocsr()
        np.savez(
            staging / "positive.npz",
            indptr=positive.indptr,
            indices=positive.indices,
            shape=np.array(positive.shape),
        )
        while True:  # another fit job may take a version first: then take the next one
            name = f"v{_newest_version(directory) + 1:06d}"
            info = {**info, "version": name}
            (staging / "snapshot.json").write_text(json.dumps(info, indent=1))
            try:
                staging.rename(directory / name)
                break
            except OSError:
                if not (directory / name).exists():
                    raise
        _replace_text(directory / LATEST, name)
    except OSError as exc:
        raise SnapshotError(
            f"could not write a model snapshot into {directory} ({exc}): free disk space or "
            "fix the folder's permissions, then fit again"
        ) from exc
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    snapshot = Snapshot(name, model, UserItems(positive, model.users, model.items), info)
    log.info("saved model snapshot %s: %s", directory / name, snapshot.summary())
    _prune(directory, keep)
    return snapshot


def latest_name(directory: str | Path) -> str | None:
    """The name of the newest complete snapshot (a small file read: cheap to poll)."""
    try:
        return (Path(directory) / LATEST).read_text().strip() or None
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError(f"cannot read {Path(directory) / LATEST} ({exc})") from exc


def latest_info(directory: str | Path) -> dict | None:
    """The newest snapshot's ``snapshot.json`` (no model is loaded), or None."""
    name = latest_name(directory)
    if name is None:
        return None
    try:
        return json.loads((Path(directory) / name / "snapshot.json").read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(
            f"the model snapshot {Path(directory) / name} cannot be read ({exc}); {FIT_HINT}"
        ) from exc


def load_latest(directory: str | Path) -> Snapshot:
    """The newest snapshot in ``directory``; NoSnapshotError when none was written yet,
    SnapshotError when it cannot be read."""
    name = latest_name(directory)
    if name is None:
        raise NoSnapshotError(f"no fitted model in {directory} yet; {FIT_HINT}")
    return load_snapshot(directory, name)


def load_snapshot(directory: str | Path, name: str) -> Snapshot:
    """One snapshot by name."""
    path = Path(directory) / name
    try:
        info = json.loads((path / "snapshot.json").read_text())
        model = CFModel.load(path / "model")
        if not hasattr(model, "aligned_to"):
            raise ValueError(f"it holds a {model.name} model; only factor models are served")
        with np.load(path / "positive.npz") as z:
            indices, indptr, shape = z["indices"], z["indptr"], tuple(z["shape"])
        matrix = csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=shape)
        positive = UserItems(matrix, model.users, model.items)
        if model.user_factors.shape[0] != len(model.users):  # type: ignore[attr-defined]
            raise ValueError("the factors do not match the model's users")
    except (OSError, ValueError, KeyError, AttributeError, zipfile.BadZipFile, RecsysError) as exc:
        raise SnapshotError(
            f"the model snapshot {path} cannot be read ({exc}); {FIT_HINT}"
        ) from exc
    return Snapshot(name, model, positive, info)


def fit_periodically(
    store: InteractionStore,
    directory: str | Path,
    every_s: float,
    stop: threading.Event | None = None,
    **options,
) -> None:
    """Fit a new snapshot every ``every_s`` seconds when events other than views came in since
    the last one (views weigh nothing in the fit), until ``stop`` is set; a failed fit is logged
    and tried again next time."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            current = (latest_info(directory) or {}).get("store_events_not_views")
        except SnapshotError:
            current = None
        try:
            if current is None or store.count(without=(EventKind.VIEW,)) != current:
                fit_snapshot(store, directory, **options)
            else:
                log.info("no new events since %s; not refitting", latest_name(directory))
        except RecsysError as exc:
            log.error("the periodic fit failed: %s; trying again in %.0f s", exc, every_s)
        stop.wait(every_s)


def _newest_version(directory: Path) -> int:
    versions = [int(p.name[1:]) for p in directory.glob("v*") if p.name[1:].isdigit()]
    return max(versions, default=0)


def _replace_text(path: Path, text: str) -> None:
    """Write a small file by rename, so a reader sees the old text or the new, never a part."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(handle, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _prune(directory: Path, keep: int) -> None:
    """Delete snapshots older than the newest ``keep`` (never the one LATEST names)."""
    newest = latest_name(directory)
    names = sorted(p.name for p in directory.glob("v*") if p.name[1:].isdigit())
    for name in names[: max(0, len(names) - keep)]:
        if name != newest:
            shutil.rmtree(directory / name, ignore_errors=True)
