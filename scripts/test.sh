#!/usr/bin/env bash
# Set up the environment, then run the whole test suite in one pytest run:
#   tests/      unit tests of helpers/ and papermill runs of all four notebooks (tiny parameters)
#   notebooks/  pytest --nbval-lax: every notebook executed in smoke mode, chosen outputs compared
# Needs Fashion-MNIST offline or online: set FASHION_MNIST_DIR to a folder with the four IDX .gz
# files (CI: ../shared/fashion-mnist). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export VAE_LAB_SMOKE=1                     # notebooks pick their tiny CI defaults (same code)
export VAE_LAB_RUNS_DIR="$(mktemp -d)"     # never touch a learner's runs/
export MPLBACKEND=Agg
trap 'rm -rf "$VAE_LAB_RUNS_DIR"' EXIT
python -m pytest tests notebooks --nbval-lax -p no:cacheprovider "$@"
