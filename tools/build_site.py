"""Build the series as a static site, offline, into _build/html (ignored by git).

    bash scripts/build_site.sh          # the site's packages (requirements-site.txt), then this

What it does, in order (about a minute; nothing is executed, the notebooks carry their outputs):
1. vendors the browser's scripts from npm into _build/vendor (once): MathJax 3 (tex-chtml and its
   fonts) and onnxruntime-web (its wasm-only build, one thread, so no cross-origin isolation is
   needed); only the files the pages load are copied into the site;
2. exports the shipped decoder (``checkpoints/vae.pt``) to ONNX with ``torch.onnx`` and writes
   what the in-browser explorer needs (a start code per class, the slider ranges, the PCA map of
   the test codes) beside it: nothing exported is committed;
3. writes the book's sources into _build/book: the README as the landing page, the six notebooks
   in series order, the teaching guide and the explorer page; Colab badges become plain links and
   links to repository files not in the book point to the repository;
4. runs Jupyter Book 1 (Sphinx), with MathJax loaded from the site itself and no widget scripts
   from a CDN, and moves the result to _build/html.

Serve it with ``.venv/bin/python tools/build_site.py --no-build --serve 8000`` and open
http://127.0.0.1:8000 (any static host works: the explorer needs no special headers).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import torch

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
NPM = {"mathjax": "3.2.2", "onnxruntime-web": "1.30.0"}  # pinned: MathJax 4 keeps its fonts in other packages
NOTEBOOKS = ["01_data", "02_train_vae", "03_latent_visualization", "04_generation_interpolation",
             "05_going_further", "06_higher_resolution"]
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")
# sphinx-thebe's scripts (a "launch a kernel" button this site does not offer): Jupyter Book adds its
# inline configuration twice, and the second `const THEBE_JS_URL` is a script error on every page
THEBE = re.compile(r'\s*<script>const THEBE_JS_URL[^<]*</script>|\s*<script async="async" src="[^"]*sphinx-thebe\.js[^"]*"></script>')


def repository_url() -> str:
    """The repository's address and the release the notebooks pin, from pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    url = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1)
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)
    return f"{url}/blob/v{version}"


# -- 1. the browser's scripts --------------------------------------------------------------------
def vendor(static: Path, cache: Path = BUILD / "vendor") -> None:
    """npm-install the pinned packages into ``cache`` (skipped when present) and copy the files the
    pages load into ``static``: mathjax/ (tex-chtml.js, its fonts) and ort/ (the wasm build)."""
    modules = cache / "node_modules"
    have = {name: json.loads((modules / name / "package.json").read_text())["version"]
            for name in NPM if (modules / name / "package.json").is_file()}
    if have != NPM:
        if shutil.which("npm") is None:
            raise SystemExit("build_site: npm is needed once to fetch MathJax and onnxruntime-web "
                             "(install Node.js 18 or newer), then run this again.")
        cache.mkdir(parents=True, exist_ok=True)
        print(f"[site] npm install {' '.join(f'{k}@{v}' for k, v in NPM.items())} into {cache}")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(cache)]
                       + [f"{k}@{v}" for k, v in NPM.items()], check=True)
    mj, ort = modules / "mathjax" / "es5", modules / "onnxruntime-web" / "dist"
    shutil.copy2(mj / "tex-chtml.js", _fresh(static / "mathjax") / "tex-chtml.js")
    shutil.copytree(mj / "output" / "chtml" / "fonts", static / "mathjax" / "output" / "chtml" / "fonts")
    for name in ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        shutil.copy2(ort / name, _fresh(static / "ort", clear=False) / name)


def _fresh(folder: Path, clear: bool = True) -> Path:
    if clear and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- 2. the decoder and the explorer's data ------------------------------------------------------
class _Decoder(torch.nn.Module):
    """The model's decoder alone: z (N, latent_dim) -> images (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return self.model.decode(z)


def export_decoder(model, path: Path) -> Path:
    """Write ``model.decode`` as one self-contained ONNX file (input "z" (N, latent_dim) float32,
    output "image" (N, C, H, W) in [-1, 1]; the batch axis is dynamic). Returns the path."""
    model = model.eval().float().cpu()
    z = torch.zeros(2, model.latent_dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(_Decoder(model).eval(), (z,), str(path), input_names=["z"], output_names=["image"],
                      dynamic_shapes={"z": {0: batch}}, external_data=False, verbose=False)
    return path


def explorer_data(model, test_x: torch.Tensor, test_y: torch.Tensor, max_points: int = 2000,
                  seed: int = 0) -> dict:
    """What the page needs besides the decoder, as JSON-ready lists. Sliders are the latent
    dimensions, the most-used first (largest mean KL over the test codes), each spanning +-3
    standard deviations of the test codes around their mean; a start code per class (the mean code
    of the class's first test image, as notebook 04's explorer starts); the 2-D PCA of the test codes
    (mean, two components) and up to ``max_points`` of its points with their classes."""
    from helpers.data import CLASS_NAMES, class_color
    from helpers.latent import encode_dataset, fit_pca, kl_per_dim

    with torch.no_grad():
        codes = encode_dataset(model.eval().cpu(), test_x, test_y)
    order = torch.argsort(kl_per_dim(codes), descending=True).tolist()
    centre, spread = codes.mu.mean(0), codes.mu.std(0)
    pca = fit_pca(codes.mu, k=2)
    pick = torch.randperm(len(codes.mu), generator=torch.Generator().manual_seed(seed))[:max_points]
    xy = pca.project(codes.mu[pick])
    starts = [codes.mu[torch.nonzero(codes.labels == c).flatten()[0]].tolist() for c in range(len(CLASS_NAMES))]
    r6 = lambda values: [round(float(v), 6) for v in values]  # noqa: E731
    return {
        "latent_dim": model.latent_dim, "image_shape": list(model.image_shape),
        "order": order, "centre": r6(centre), "spread": r6(spread),
        "classes": list(CLASS_NAMES),
        "colors": ["#%02x%02x%02x" % tuple(round(255 * v) for v in class_color(c)) for c in range(len(CLASS_NAMES))],
        "starts": [r6(s) for s in starts],
        "pca": {"mean": r6(pca.mean), "components": [r6(row) for row in pca.components],
                "explained": r6(pca.explained)},
        "points": [[round(float(a), 3), round(float(b), 3), int(c)] for (a, b), c in zip(xy.tolist(), codes.labels[pick])],
    }


def write_explorer(folder: Path, checkpoint: Path | None = None, data_dir=None) -> dict:
    """Export the checkpoint's decoder and the explorer's data into ``folder``; returns the data."""
    from helpers.config import shipped_checkpoint_path
    from helpers.data import load_fashion_mnist
    from helpers.model import load_checkpoint

    checkpoint = Path(checkpoint) if checkpoint else shipped_checkpoint_path("vae")
    model = load_checkpoint(checkpoint)
    if model.conditional:
        raise SystemExit(f"build_site: {checkpoint} is a conditional model; the explorer decodes a plain VAE's codes.")
    test = load_fashion_mnist("test", data_dir)
    export_decoder(model, folder / "decoder.onnx")
    data = explorer_data(model, test.scaled(), test.labels)
    data["checkpoint"] = checkpoint.name
    (folder / "explorer.json").write_text(json.dumps(data, separators=(",", ":")))
    return data


# -- 3. the book's sources -----------------------------------------------------------------------
def _rewrite_markdown(text: str, in_book: set[str], repo: str) -> str:
    """Colab badges -> plain links; links to repository files that are not pages of the book -> the
    repository; links to pages stay relative."""
    text = BADGE.sub(r"[Open in Colab](\1)", text)

    def link(match):
        label, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:|#|mailto:", target) or target.split("#")[0] in in_book:
            return match.group(0)
        return f"[{label}]({repo}/{target})"

    return re.sub(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)", link, text)


def write_book(book: Path, static: Path) -> None:
    """The Jupyter Book sources: _config.yml, _toc.yml and the pages (``static`` holds the site's own files)."""
    repo = repository_url()
    in_book = {f"notebooks/{n}.ipynb" for n in NOTEBOOKS} | {"docs/teaching.md", "explorer.md", "docs/explorer.png",
                                                             "results/study.png"}
    readme = _rewrite_markdown((ROOT / "README.md").read_text(), in_book, repo)
    (book / "index.md").write_text(readme)
    (book / "docs").mkdir(exist_ok=True)
    (book / "results").mkdir(exist_ok=True)
    (book / "notebooks").mkdir(exist_ok=True)
    teaching = (ROOT / "docs" / "teaching.md").read_text()
    (book / "docs" / "teaching.md").write_text(_rewrite_markdown(teaching, {"../README.md"}, repo + "/docs"))
    shutil.copy2(ROOT / "docs" / "explorer.png", book / "docs" / "explorer.png")
    shutil.copy2(ROOT / "results" / "study.png", book / "results" / "study.png")
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                source = cell.source.replace("../tools/site/explorer.md", "../explorer.md")  # the page it becomes
                cell.source = _rewrite_markdown(source, {f"{n}.ipynb" for n in NOTEBOOKS} | {"../explorer.md"},
                                                repo + "/notebooks")
                for att, files in cell.pop("attachments", {}).items():  # myst-nb shows no attachments: a file
                    data = files.get("image/png") or next(iter(files.values()))
                    (book / "notebooks" / f"{name}_{att}").write_bytes(base64.b64decode(data))
                    cell.source = cell.source.replace(f"attachment:{att}", f"{name}_{att}")
        nbformat.write(nb, book / "notebooks" / f"{name}.ipynb")
    shutil.copy2(ROOT / "tools" / "site" / "explorer.md", book / "explorer.md")
    shutil.copy2(ROOT / "tools" / "site" / "explorer.js", _fresh(static / "explorer", clear=False) / "explorer.js")
    toc = ["format: jb-book", "root: index", "parts:", "- caption: The series", "  chapters:"]
    toc += [f"  - file: notebooks/{n}" for n in NOTEBOOKS]
    toc += ["- caption: Explore and teach", "  chapters:", "  - file: explorer", "  - file: docs/teaching"]
    (book / "_toc.yml").write_text("\n".join(toc) + "\n")
    (book / "_config.yml").write_text(CONFIG)


CONFIG = """\
title: vae-latent-lab
author: the vae-latent-lab authors
copyright: "2026"
only_build_toc_files: true
execute:
  execute_notebooks: "off"        # the committed outputs are the lesson; nothing runs at build time
html:
  use_repository_button: false
  use_issues_button: false
  use_edit_page_button: false
  use_download_button: false
sphinx:
  config:
    html_static_path: ["site_static"]
    mathjax_path: "mathjax/tex-chtml.js"   # vendored: no CDN
    nb_ipywidgets_js: {}                   # no widget scripts from a CDN (a static page has no kernel)
    nb_mime_priority_overrides: [["html", "application/vnd.jupyter.widget-view+json", null],
                                 ["html", "application/vnd.jupyter.widget-state+json", null]]
    html_theme_options:
      navigation_with_keys: false
    suppress_warnings: ["myst.header", "myst.xref_missing", "misc.highlighting_failure"]
"""


# -- 4. the build --------------------------------------------------------------------------------
def build(out: Path = BUILD / "html", data_dir=None, checkpoint=None) -> Path:
    started = time.time()
    book = _fresh(BUILD / "book")
    static = _fresh(book / "site_static")  # copied to _static/; not "_static", whose scripts Jupyter Book adds to every page
    vendor(static)
    data = write_explorer(static / "explorer", checkpoint, data_dir)
    write_book(book, static)
    jb = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), "--builder", "html"]
    done = subprocess.run(jb, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"build_site: jupyter-book failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    if out.exists():
        shutil.rmtree(out)
    shutil.move(str(book / "_build" / "html"), str(out))
    for page in out.rglob("*.html"):
        page.write_text(THEBE.sub("", page.read_text()))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    onnx_size = (out / "_static" / "explorer" / "decoder.onnx").stat().st_size
    print(f"[site] built {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} in {time.time() - started:.0f} s: "
          f"{size / 1e6:.1f} MB; decoder.onnx {onnx_size / 1e6:.2f} MB from {data['checkpoint']} "
          f"(latent {data['latent_dim']})")
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


@contextmanager
def serve(folder: Path, port: int = 0):
    """Serve ``folder`` on 127.0.0.1 from a thread (port 0: a free one); yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD / "html", help="where the site goes (default _build/html)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="the explorer's model (default: the shipped vae.pt)")
    parser.add_argument("--data-dir", default=None, help="offline Fashion-MNIST folder (default $FASHION_MNIST_DIR)")
    parser.add_argument("--serve", type=int, metavar="PORT", default=None,
                        help="then serve the site on http://127.0.0.1:PORT until Ctrl-C")
    parser.add_argument("--no-build", action="store_true", help="serve the last build without building")
    args = parser.parse_args(argv)
    if not args.no_build:
        build(args.out, args.data_dir, args.checkpoint)
    if args.serve is not None:
        with serve(args.out, args.serve) as url:
            print(f"[site] serving {args.out} at {url} (Ctrl-C stops)")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
