#!/usr/bin/env bash
# Build LightFM 1.17, the peer of bench/recsys_compare.py, into the project's venv.
# Its PyPI sdist no longer builds with current setuptools: setup.py assigns to __builtins__
# (a module inside setup.py's exec, not a dict). The sdist is fetched from PyPI, checked
# against its published SHA-256, that one line is replaced by `import builtins; builtins...`,
# and it is compiled with the machine's gcc. Nothing of LightFM is kept in this repository.
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
URL=https://files.pythonhosted.org/packages/1f/96/5ec230f5c27811534af0faaa8525f11c1000ee1c24c8a82c0546d0724aea/lightfm-1.17.tar.gz
SHA256=2b77ada182ccd768a8d7643ab3cfcd8b6e855db09087f7cc7329bd63316697a8
if "$PYTHON" -c "import lightfm" 2>/dev/null; then
    echo "lightfm already installed"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" \
    "$URL" "$work/lightfm.tar.gz"
echo "$SHA256  $work/lightfm.tar.gz" | sha256sum -c -
tar xzf "$work/lightfm.tar.gz" -C "$work"
sed -i 's/^__builtins__.__LIGHTFM_SETUP__ = True/import builtins; builtins.__LIGHTFM_SETUP__ = True/' \
    "$work/lightfm-1.17/setup.py"
"$PYTHON" -m pip install --quiet setuptools wheel  # the build runs without isolation
"$PYTHON" -m pip install --quiet --no-build-isolation "$work/lightfm-1.17"
"$PYTHON" -c "import lightfm; print('lightfm', lightfm.__version__, 'built')"
