"""The built wheel is a real package: installed into a new virtual environment it runs
``crossmedia --version``, ``doctor`` and a search from outside the source tree, with the trained
weights and the widget page found inside the installed package.

The new environment gets the wheel itself with pip; its third-party dependencies are borrowed
from the running environment through a ``.pth`` line (installing torch, gradio, chromadb, ...
again would take minutes; ``bench/stock_install.py`` does the whole install from scratch)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source") / "crossmedia"
    # build from a copy of the tracked files: no stray build/ or egg-info in the checkout
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("crossmedia-*.whl")
    return built


def test_the_wheel_carries_the_weights_and_the_widget(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "retrieval/encoders/weights/default/heads.pt",
        "retrieval/encoders/weights/default/fusion.pt",
        "retrieval/encoders/weights/default/heads.json",
        "ui/widget/index.html",
        "ui/security/middleware.py",
    ):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_the_installed_wheel_runs_doctor_and_a_search(wheel, tmp_path, stamps_root, model_cache):
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)

    work = tmp_path / "elsewhere"  # not the source tree: nothing can be found there by accident
    work.mkdir()
    env = {
        **os.environ,
        "CROSSMEDIA_HOME": str(tmp_path / "home"),
        "CROSSMEDIA_CACHE_DIR": str(model_cache),
        "PYTHONPATH": "",
    }

    def crossmedia(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [env_dir / "bin" / "crossmedia", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    where = subprocess.run(
        [python, "-c", "import retrieval, ui; print(retrieval.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(env_dir)
    assert crossmedia("--version").stdout.strip() == "crossmedia 0.1.0"
    doctor = crossmedia("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"trained heads: trained alignment heads and fusion in {env_dir}" in doctor.stdout

    library = work / "library"
    library.mkdir()
    for stamp in ("frog-1", "banana", "guitar2"):
        found = next(stamps_root.rglob(f"{stamp}.png"))
        shutil.copy(found, library / found.name)
        shutil.copy(found.with_suffix(".txt"), library / f"{stamp}.txt")
    assert crossmedia("ingest", str(library), "--json").returncode == 0
    found = json.loads(crossmedia("search", "a frog", "--json", "-k", "1").stdout)
    assert "frog" in found["results"][0]["caption"].lower()


def test_doctor_says_how_to_fix_what_is_missing(tmp_path, model_cache):
    """With the stamps moved away and the data folder unwritable, doctor fails and says why."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    env = {
        **os.environ,
        "CROSSMEDIA_TUXPAINT_DIR": str(tmp_path / "no-stamps"),
        "CROSSMEDIA_CACHE_DIR": str(model_cache),
    }
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "doctor", "--data-dir", str(blocked / "home")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "[FAIL] Tux Paint stamps" in result.stdout and "apt-get install" in result.stdout
    assert "[FAIL] data folder" in result.stdout
    assert "[ok  ] image model" in result.stdout
