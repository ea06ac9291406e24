"""The README's first command on a stock Debian system Python, timed: a fresh clone of this
repository, ``scripts/setup.sh`` run with ``/usr/bin/python3`` (externally managed, PEP 668) in
a clean environment (``env -i PATH=/usr/bin:/bin``), then ``.venv/bin/crossmedia demo
--no-serve`` and ``doctor``, then ``setup.sh`` again (should be a no-op). Writes
``bench/results/stock_install.json``.

    python bench/stock_install.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import provenance

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results" / "stock_install.json"
SYSTEM_PYTHON = "/usr/bin/python3"


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """Run ``command``; its exit code, seconds and the last lines it printed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if "WARNING: Location" not in ln]
    return {
        "command": " ".join(command),
        "exit_code": done.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "output_tail": lines[-12:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="stock-install-"))
    clone = work / "crossmedia"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work / "home"),
        "LANG": "C.UTF-8",
        "PYTHON": SYSTEM_PYTHON,
    }
    managed = (
        subprocess.run(
            [
                SYSTEM_PYTHON,
                "-c",
                "import sysconfig, pathlib; print(pathlib.Path("
                "sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED').exists())",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
        == "True"
    )
    version = subprocess.run([SYSTEM_PYTHON, "-V"], capture_output=True, text=True).stdout.strip()
    data = str(work / "data")
    steps = {
        "setup": timed(["bash", "scripts/setup.sh"], clone, env),
        "demo --no-serve": timed(
            [".venv/bin/crossmedia", "demo", "--no-serve", "--data-dir", data], clone, env
        ),
        "doctor": timed([".venv/bin/crossmedia", "doctor", "--data-dir", data], clone, env),
        "setup again": timed(["bash", "scripts/setup.sh"], clone, env),
    }
    report = {
        "provenance": provenance("none"),
        "python": version,
        "externally_managed": managed,
        "environment": "env -i PATH=/usr/bin:/bin (plus HOME, LANG)",
        "machine": "2 CPU cores; apt packages already present on this machine",
        "steps": steps,
        "all_passed": all(s["exit_code"] == 0 for s in steps.values()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for name, step in steps.items():
        print(f"{name:16s} exit {step['exit_code']}  {step['seconds']:7.1f} s")
    return 0 if report["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
