#!/usr/bin/env bash
# Set up the environment, then run the test suite (two pytest runs, one exit status):
#   tests/      unit tests of helpers/ and papermill runs of all four notebooks (tiny parameters)
#   notebooks   pytest --nbval-lax: every notebook executed in smoke mode, chosen outputs compared,
#               each copied alone into an empty folder and run against the wheel this repository
#               builds (a learner who opens one from a link: no helpers link, no ../checkpoints)
#   tests/test_browser.py drives notebook 04's explorer in JupyterLab + headless Chromium
#   tests/test_course.py  makes the student release and autogrades with nbgrader (smoke mode)
#   tests/test_site.py    builds the book site (tools/build_site.py) and checks it in headless Chromium
# Needs Fashion-MNIST offline or online: set FASHION_MNIST_DIR to a folder with the four IDX .gz
# files (CI: ../shared/fashion-mnist). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --instructor       # the test suite needs the instructor's tools (nbgrader) too
bash scripts/setup.sh --site             # and the book site's (tests/test_site.py builds it; npm fetches its scripts)
export PATH="$PWD/.venv/bin:$PATH"
# the browser test (tests/test_browser.py) needs a Chromium: Debian's package where we can install it
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[test] installing Debian's chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[test] no chromium on PATH: the browser test will use Playwright's own browser" \
         "(run: .venv/bin/python -m playwright install chromium) or CHROMIUM_PATH" >&2
  fi
fi
export VAE_LAB_SMOKE=1                     # notebooks pick their tiny CI defaults (same code)
export MPLBACKEND=Agg
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip wheel --no-deps --no-build-isolation -q -w "$work/wheel" .
python -m pip install -q --no-deps --target "$work/site" "$work"/wheel/vae_latent_lab-*.whl
alone=()
for nb in notebooks/0*.ipynb; do
  name="$(basename "$nb" .ipynb)"; mkdir -p "$work/alone/$name"; cp "$nb" "$work/alone/$name/"
  alone+=("$work/alone/$name/$name.ipynb")
done
printf '[pytest]\n' > "$work/alone/pytest.ini"
rc=0
VAE_LAB_RUNS_DIR="$work/runs" python -m pytest tests -p no:cacheprovider --durations=20 "$@" || rc=$?
# runs/ beside each notebook, the package and its checkpoints from the installed wheel only
(cd "$work/alone" && env -u VAE_LAB_RUNS_DIR PYTHONPATH="$work/site" python -m pytest "${alone[@]}" --nbval-lax \
   -p no:cacheprovider --durations=10) || rc=$?
exit $rc
