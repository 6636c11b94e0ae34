"""One source of truth: helpers/vae.py is exactly the `#| export` cells of notebook 02."""

import importlib.util
import json
import subprocess
import sys

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("export_lesson", ROOT / "tools" / "export_lesson.py")
export_lesson = importlib.util.module_from_spec(_spec)  # a maintainer tool, not part of the package
_spec.loader.exec_module(export_lesson)


def test_the_package_copy_is_the_notebooks_export_cells():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "export_lesson.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_is_detected_and_reported_as_a_diff(tmp_path, monkeypatch):
    nb = json.loads(export_lesson.NOTEBOOK.read_text())
    cell = next(c for c in nb["cells"] if "".join(c["source"]).startswith("#| export") and
                "def reparameterize" in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]).replace("torch.exp(0.5 * logvar)", "torch.exp(logvar)")
    edited = tmp_path / "02_train_vae.ipynb"
    edited.write_text(json.dumps(nb))
    module = tmp_path / "vae.py"
    module.write_text(export_lesson.MODULE.read_text())
    monkeypatch.setattr(export_lesson, "NOTEBOOK", edited)
    monkeypatch.setattr(export_lesson, "MODULE", module)
    monkeypatch.setattr(export_lesson, "ROOT", tmp_path)
    assert export_lesson.main(["--check"]) == 1
    assert export_lesson.main([]) == 0 and "torch.exp(logvar)" in module.read_text()
    assert export_lesson.main(["--check"]) == 0


def test_the_lesson_defines_model_reparameterization_loss_and_training_loop_in_its_cells():
    cells = ["".join(c["source"]) for c in json.loads(export_lesson.NOTEBOOK.read_text())["cells"]]
    exported = [c for c in cells if c.startswith("#| export")]
    for name in ("class ConvVAE", "def reparameterize", "def kl_divergence", "def gaussian_nll", "def vae_loss",
                 "def train_epoch", "def evaluate", "def fit"):
        assert sum(name in c for c in exported) == 1, name
    # every layer of the model carries a shape comment
    model_cell = next(c for c in exported if "class ConvVAE" in c)
    layers = [line for line in model_cell.splitlines() if "nn.Conv" in line or "nn.Linear" in line]
    assert layers and all("# " in line and "(N, " in line for line in layers), layers
    # the conditional model's branches are not in the lesson
    assert not any("one_hot" in c or "prior_mu" in c for c in exported)
    # the lesson model is the plain 28 x 28 one, at most 45 lines, with none of the package's extras
    assert len(model_cell.splitlines()) <= 45
    assert not any(word in model_cell for word in ("image_shape", "conv_channels", "sampler", "y=None"))
    # and the notebook builds the optimizer and schedule and runs its own loop (fit) in view
    train_cell = next(c for c in cells if "history = fit(model, optimizer, scheduler, run" in c)
    assert "torch.optim.Adam(" in train_cell and "OneCycleLR(" in train_cell
    raw = json.loads(export_lesson.NOTEBOOK.read_text())["cells"]
    end = next(i for i, c in enumerate(raw) if c["cell_type"] == "markdown" and "## Exercises" in "".join(c["source"]))
    lesson_code = ["".join(c["source"]) for c in raw[:end] if c["cell_type"] == "code"]
    assert not any("train_vae(" in c for c in lesson_code)  # the lesson trains with its own loop (exercises may not)
