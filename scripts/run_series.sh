#!/usr/bin/env bash
# Set up the environment, then execute all six notebooks headless with papermill on their real
# defaults, in order, into outputs/series/ (a learner's full run: a few minutes on a laptop CPU).
# Extra arguments go to every papermill call, e.g.:  bash scripts/run_series.sh -p SEED 1
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
out=outputs/series
mkdir -p "$out"
for nb in 01_data 02_train_vae 03_latent_visualization 04_generation_interpolation 05_going_further \
          06_higher_resolution; do
  echo "[series] running notebooks/$nb.ipynb"
  start=$(date +%s)
  papermill --cwd notebooks --progress-bar "notebooks/$nb.ipynb" "$out/$nb.ipynb" "$@"
  echo "[series] $nb done in $(( $(date +%s) - start )) s -> $out/$nb.ipynb"
done
echo
echo "[series] all six notebooks ran. Open them with:"
echo "    .venv/bin/jupyter lab $out        (executed copies, with their outputs)"
echo "    .venv/bin/jupyter lab notebooks   (the series itself, to run cell by cell)"
