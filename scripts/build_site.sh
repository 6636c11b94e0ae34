#!/usr/bin/env bash
# Build the series as a static site into _build/html, offline (no notebook is executed: the pages
# show the committed outputs). Needs npm once, to fetch MathJax 3 and onnxruntime-web into
# _build/vendor; Fashion-MNIST's test split for the explorer's map ($FASHION_MNIST_DIR, else download).
#   bash scripts/build_site.sh --serve 8000     # build, then serve it: open http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --site
.venv/bin/python tools/build_site.py "$@"
