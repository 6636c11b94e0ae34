#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment .venv with the pinned requirements and
# the helpers package installed editable. Re-running is cheap: it reinstalls only when the
# requirements or pyproject.toml changed. Override the interpreter with PYTHON=python3.11 and
# the folder with VENV=path.
#
#   bash scripts/setup.sh                # the learner's install: requirements.txt (no grading tools)
#   bash scripts/setup.sh --instructor   # plus nbgrader (requirements-instructor.txt): course.py, the tests
#   bash scripts/setup.sh --site         # plus the book site's tools (requirements-site.txt): build_site.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
case "${1:-}" in
  "") REQS=requirements.txt; who=learner ;;
  --instructor) REQS=requirements-instructor.txt; who=instructor ;;
  --site) REQS=requirements-site.txt; who=site ;;
  *) echo "[setup] '$1' is not an option: use no argument (the learner's install), --instructor or --site" >&2; exit 2 ;;
esac
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.vae-latent-lab-installed-$who"
want=$(cat requirements.txt "$REQS" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing the $who's pinned requirements ($REQS: torch 2.14.1 and friends; a few minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
    || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c "import torch, torchvision, helpers; print(f'[setup] ready ($who): torch {torch.__version__}, torchvision {torchvision.__version__}')"
