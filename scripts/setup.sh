#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment .venv with the pinned requirements and
# the helpers package installed editable. Re-running is cheap: it reinstalls only when
# requirements.txt or pyproject.toml changed. Override the interpreter with PYTHON=python3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.vae-latent-lab-installed"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing pinned requirements (torch 2.14.1 and friends; a few minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
    || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c "import torch, torchvision, helpers; print(f'[setup] ready: torch {torch.__version__}, torchvision {torchvision.__version__}')"
