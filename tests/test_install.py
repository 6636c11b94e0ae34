"""Open any notebook from a link or a clean folder: the wheel carries the package, the shipped
checkpoints and the study's results; every notebook's first code cell installs it only where
``helpers`` is missing. (The notebooks themselves run from a clean folder against the installed
wheel in scripts/test.sh's nbval run.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile

import pytest

from conftest import NB_DIR, ROOT

NOTEBOOKS = sorted(NB_DIR.glob("0*.ipynb"))


def install_cell(path):
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    return "".join(cells[0]["source"]), cells[0]["metadata"].get("tags", []), cells[1]["metadata"].get("tags", [])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (path,) = out.glob("vae_latent_lab-*.whl")
    return path


def test_the_wheel_holds_the_package_the_checkpoints_and_the_study(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in ("vae", "vae2d", "cvae", "shapes64", "classifier"):
        assert f"helpers/checkpoints/{model}.pt" in names, model
    assert {"helpers/results/study.csv", "helpers/results/study.png", "helpers/model.py"} <= names
    assert not any(n.startswith(("notebooks/", "tests/", "tools/")) for n in names)
    assert wheel.stat().st_size < 20e6, wheel.stat().st_size   # about 14 MB, most of it the checkpoints


def test_every_notebook_starts_with_the_same_install_cell_pinned_to_this_release():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = f'vae-latent-lab @ git+{meta["urls"]["Repository"]}@v{meta["version"]}'
    sources = set()
    for path in NOTEBOOKS:
        source, tags, next_tags = install_cell(path)
        assert "install" in tags and "parameters" in next_tags, path.name   # before the parameters cell
        assert f'os.environ.get("VAE_LAB_INSTALL", "{pinned}")' in source, path.name
        assert len(source.splitlines()) <= 10, path.name
        sources.add(source)
    assert len(sources) == 1


def _run_cell(python, cwd, **env):
    source = install_cell(NOTEBOOKS[0])[0]
    return subprocess.run([str(python), "-c", source], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env})


def test_install_cell_does_nothing_where_the_package_is_importable(tmp_path):
    """A clone (notebooks/ holds the helpers link): no pip call, even with a source that cannot work."""
    done = _run_cell(sys.executable, NB_DIR, VAE_LAB_INSTALL=str(tmp_path / "no-such.whl"))
    assert done.returncode == 0 and done.stdout == "", (done.stdout, done.stderr[-1000:])


def test_install_cell_installs_where_the_package_is_missing_and_says_what_to_run_when_it_fails(tmp_path, wheel):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)   # a fresh environment: no helpers (Colab's case)
    python = env_dir / "bin" / "python"
    bad = _run_cell(python, tmp_path, VAE_LAB_INSTALL=str(tmp_path / "no-such.whl"), PIP_NO_INDEX="1")
    assert bad.returncode != 0 and "RuntimeError: Could not install" in bad.stderr
    assert re.search(r'Run  pip install ".*no-such\.whl"  in a terminal, then restart the kernel', bad.stderr)
    good = _run_cell(python, tmp_path, VAE_LAB_INSTALL=str(wheel), PIP_NO_DEPS="1", PIP_NO_INDEX="1")
    assert good.returncode == 0, good.stderr[-2000:]
    assert good.stdout.startswith(f"installing {wheel}")
    where = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('helpers').origin)"],
                           cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    package = os.path.dirname(where)
    assert package.startswith(str(env_dir)) and os.path.isfile(os.path.join(package, "checkpoints", "vae.pt"))
    again = _run_cell(python, tmp_path, VAE_LAB_INSTALL=str(tmp_path / "no-such.whl"))
    assert again.returncode == 0 and again.stdout == ""                 # installed once: now nothing to do


def test_an_installed_package_finds_its_checkpoints_and_puts_runs_beside_the_notebook(tmp_path, wheel):
    target, folder = tmp_path / "site", tmp_path / "lab"
    folder.mkdir()
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    code = ("import helpers.config as c\nfrom helpers.model import load_checkpoint\n"
            "m = load_checkpoint(c.checkpoint_parameter('auto', 'vae'))\n"
            "print(c.IN_CLONE, c.CHECKPOINT_DIR, c.runs_dir(), c.DEFAULT_DATA_DIR, c.checkpoint_parameter('short'), m.latent_dim)")
    env = {k: v for k, v in os.environ.items() if k != "VAE_LAB_RUNS_DIR"}
    out = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True,
                         env={**env, "PYTHONPATH": str(target)})
    assert out.returncode == 0, out.stderr[-2000:]
    in_clone, checkpoints, runs, data, short, latent = out.stdout.split()
    assert in_clone == "False" and checkpoints == str(target / "helpers" / "checkpoints") and latent == "16"
    assert (runs, data, short) == (str(folder / "runs"), str(folder / "data"), str(folder / "runs" / "short.pt"))


def test_colab_badges_open_this_release_of_each_notebook():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    repo = meta["urls"]["Repository"].removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        url = f"https://colab.research.google.com/github/{repo}/blob/v{meta['version']}/notebooks/{path.name}"
        first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        assert f"(https://colab.research.google.com/assets/colab-badge.svg)]({url})" in first, path.name
        assert url in readme, path.name
