"""Course tools (scripts/course.py): graded tasks in the series notebooks, a student release that
hands out no solution, and an autograder whose scores mean what they say (nbgrader 0.9.6 itself)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("course", ROOT / "scripts" / "course.py")
course = importlib.util.module_from_spec(_spec)  # an instructor's script, not part of the package
_spec.loader.exec_module(course)

SERIES = [ROOT / "notebooks" / name for name in course.SERIES]


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _autograded_points(path):
    """{test cell grade_id: points} of a notebook's autograded test cells."""
    return {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in _cells(path)
            if c["cell_type"] == "code" and _nbgrader(c).get("grade")}


def _course(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "course.py"), *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("course") / "student-release"
    done = _course("release", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_each_core_notebook_has_two_or_more_autograded_tasks_twelve_in_all():
    total = 0
    for path in SERIES:
        cells = _cells(path)
        solutions = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and _nbgrader(c).get("solution")]
        assert len(solutions) >= 2, path.name
        for i in solutions:  # every task: its solution region, then a locked test cell worth points
            text = "".join(cells[i]["source"])
            assert "### BEGIN SOLUTION" in text and "### END SOLUTION" in text, (path.name, i)
            test = cells[i + 1]
            assert _nbgrader(test).get("grade") and _nbgrader(test).get("locked") and _nbgrader(test)["points"] > 0
        hidden = [c for c in cells if "### BEGIN HIDDEN TESTS" in "".join(c["source"])]
        assert len(hidden) == len(solutions), f"{path.name}: every task has hidden checks"
        by_hand = [c for c in cells if c["cell_type"] == "markdown" and _nbgrader(c).get("grade")]
        assert by_hand, f"{path.name}: a question graded by hand"
        ids = [_nbgrader(c)["grade_id"] for c in cells if _nbgrader(c)]
        assert len(ids) == len(set(ids)), f"{path.name}: grade ids are unique"
        total += len(solutions)
    assert total >= 12


def test_release_has_student_notebooks_stubbed_package_and_checkpoints(released):
    for path in SERIES:
        student = released / "notebooks" / path.name
        cells = _cells(student)
        stubs = [c for c in cells if _nbgrader(c).get("solution") and c["cell_type"] == "code"]
        assert stubs and all("raise NotImplementedError()" in "".join(c["source"]) for c in stubs), path.name
        assert all("YOUR ANSWER HERE" in "".join(c["source"]) for c in cells
                   if c["cell_type"] == "markdown" and _nbgrader(c).get("solution")), path.name
        assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), path.name
        text = "\n".join("".join(c["source"]) for c in cells)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, path.name
    module = (released / "helpers" / "vae.py").read_text()
    export = course._export_lesson()
    assert module == export.exported_source(released / "notebooks" / "02_train_vae.ipynb")
    assert module.count("raise NotImplementedError()") == 4  # reparameterize, KL, Gaussian NLL, vae_loss
    assert (released / "notebooks" / "helpers").resolve() == (released / "helpers").resolve()
    assert sorted(p.name for p in (released / "checkpoints").iterdir()) == ["vae.pt", "vae2d.pt"]
    for name in ("README.md", "requirements.txt", "pyproject.toml", "scripts/setup.sh", "results/study.csv"):
        assert (released / name).is_file(), name
    assert not any((released / "helpers" / name).exists() for name in course.NOT_RELEASED)


def test_the_released_package_imports_from_the_release_and_serves_notebooks_03_04(released):
    """From the release's notebooks/ folder, `helpers` is the release's own package (stubs
    included), every module the core notebooks import loads, and the shipped model still encodes
    and decodes (03 and 04 need no task of 02)."""
    code = ("import helpers, torch\n"
            "from helpers import config, data, latent, metrics, model, plots, train, vae, widgets\n"
            "m = model.load_checkpoint(config.default_checkpoint('vae'))\n"
            "mu, logvar = m.encode(torch.zeros(2, 1, 28, 28))\n"
            "print(helpers.__file__, tuple(m.decode(mu).shape))\n"
            "try:\n    vae.reparameterize(mu, logvar)\nexcept NotImplementedError:\n    print('stub')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=released / "notebooks", capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "VAE_LAB_RUNS_DIR"})
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = done.stdout.split("\n")[:2]
    assert first.startswith(str((released / "notebooks" / "helpers").resolve())) or \
        first.startswith(str(released / "notebooks" / "helpers")), first
    assert first.endswith("(2, 1, 28, 28)") and second == "stub"


def test_no_solution_or_hidden_check_line_is_anywhere_in_the_release(released):
    secrets = {path.name: course.secret_lines(path) for path in SERIES}
    assert all(len(lines) >= 6 for lines in secrets.values()), {k: len(v) for k, v in secrets.items()}
    assert 'sigma = torch.exp(0.5 * logvar)' in secrets["02_train_vae.ipynb"]  # also in the repository's helpers/vae.py
    assert course.leaked_lines(released) == []
    # the search finds what it looks for: every secret line is found in the source notebooks themselves
    found = {line for line, _ in course.leaked_lines(ROOT / "notebooks")}
    assert found == {line for lines in secrets.values() for line in lines}


def test_release_refuses_a_folder_that_is_not_empty_and_writes_nothing(tmp_path):
    (tmp_path / "mine.txt").write_text("a student's work")
    done = _course("release", tmp_path)
    assert done.returncode == 2
    assert f"OUTDIR={str(tmp_path)!r} is not allowed" in done.stderr and "nothing was written" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_grade_names_a_missing_or_unknown_notebook(tmp_path):
    done = _course("grade", tmp_path / "02_train_vae.ipynb")
    assert done.returncode == 2 and "there is no such file" in done.stderr
    other = tmp_path / "my_homework.ipynb"
    other.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    done = _course("grade", other)
    assert done.returncode == 2 and "my_homework.ipynb" in done.stderr and "02_train_vae.ipynb" in done.stderr
    plain = tmp_path / "01_data.ipynb"
    plain.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    done = _course("grade", plain)
    assert done.returncode == 2 and "no nbgrader cells" in done.stderr


def _filled(released, tmp_path, name, change=None, delete=(), strip=()):
    """The student release of notebook ``name`` with every task filled in from the source, then
    ``change``: {grade_id: (old, new)} replaced in that task's code; the test cells in ``delete``
    deleted and those in ``strip`` left in place with their nbgrader metadata removed."""
    answers = {_nbgrader(c)["grade_id"]: "".join(c["source"]) for c in _cells(ROOT / "notebooks" / name)
               if _nbgrader(c).get("solution")}
    nb = json.loads((released / "notebooks" / name).read_text())
    cells = []
    for cell in nb["cells"]:
        grade_id = _nbgrader(cell).get("grade_id")
        if _nbgrader(cell).get("solution") and cell["cell_type"] == "code":
            cell["source"] = answers[grade_id]
            if grade_id in (change or {}):
                old, new = change[grade_id]
                assert old in cell["source"], (grade_id, old)
                cell["source"] = cell["source"].replace(old, new)
        if grade_id in strip:
            del cell["metadata"]["nbgrader"]
        if grade_id not in delete:
            cells.append(cell)
    nb["cells"] = cells
    path = tmp_path / f"{name.split('_')[0]}-{len(list(tmp_path.iterdir()))}" / name  # any folder: the file name finds the tests
    path.parent.mkdir()
    path.write_text(json.dumps(nb))
    return path


def test_grading_is_fair_and_says_per_task_what_was_expected(released, tmp_path):
    """One nbgrader run grades: the full series (full marks), the unmodified release of 02 (the
    notebook whose tasks the rest of it trains with: nothing), 02 with one plausible mistake
    (sigma = exp(logvar)) whose test cell the student also deleted (restored, exactly that task's
    points lost), and 01 with a correct answer that prints a warning (torch.tensor of a tensor),
    a test cell whose nbgrader metadata was stripped (restored and graded) and a mistake only a
    hidden check finds (clipping after the conversion to uint8). That the other unmodified release
    notebooks earn nothing follows from their stubs (test_release_stubs_raise_in_every_task)."""
    wrong02 = _filled(released, tmp_path, "02_train_vae.ipynb", delete=["test_reparameterize"],
                      change={"reparameterize": ("torch.exp(0.5 * logvar)", "torch.exp(logvar)")})
    tampered01 = _filled(released, tmp_path, "01_data.ipynb", strip=["test_closest_pair"], change={
        "ink_share": ("    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    labels = torch.tensor(labels)  # warns: copy a tensor\n"),
        "to_bytes": ("pixels.round().clamp(0, 255).to(torch.uint8)", "pixels.round().to(torch.uint8).clamp(0, 255)")})
    student02 = released / "notebooks" / "02_train_vae.ipynb"
    done = _course("grade", *SERIES, student02, wrong02, tampered01)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    print(*rows, sep="\n")
    assert [r["notebook"] for r in rows] == [p.name for p in SERIES] + ["02_train_vae.ipynb"] * 2 + ["01_data.ipynb"]
    for row, path in zip(rows, SERIES + [SERIES[1]] * 2 + [SERIES[0]]):
        points = _autograded_points(path)
        assert list(row["tasks"]) == list(points), row                 # every test cell, in notebook order
        assert [t["max_score"] for t in row["tasks"].values()] == [float(p) for p in points.values()]
        assert row["max_score"] == float(sum(points.values())), row
        assert row["score"] == sum(t["score"] for t in row["tasks"].values()) and row["ungradable"] == []
    for row in rows[:4]:
        assert row["score"] == row["max_score"] and row["restored"] == [], row   # the full series: full marks
    assert rows[4]["score"] == 0.0 and rows[4]["restored"] == [], rows[4]       # the unmodified release: nothing
    wrong, tampered = rows[5], rows[6]
    assert wrong["restored"] == ["test_reparameterize"]
    assert {k: t["score"] for k, t in wrong["tasks"].items()} == {"test_reparameterize": 0.0, "test_kl_divergence": 2.0,
                                                                   "test_gaussian_nll": 2.0, "test_vae_loss": 2.0}
    assert "sigma = exp(logvar / 2) = (2, 0.5): got" in wrong["tasks"]["test_reparameterize"]["error"]
    assert tampered["restored"] == ["test_closest_pair"]
    assert {k: t["score"] for k, t in tampered["tasks"].items()} == {"test_ink_share": 2.0, "test_closest_pair": 1.0,
                                                                      "test_to_bytes": 0.0}
    error = tampered["tasks"]["test_to_bytes"]["error"]                   # a hidden check: expected and got
    assert error.startswith("AssertionError") and "1.2 -> 255" in error and "got [192, 24, 255]" in error, error
    assert all("error" not in t for r in rows[:4] for t in r["tasks"].values())


def test_release_stubs_raise_in_every_task(released):
    """Every graded code task of the release is a stub that raises, so its test cell cannot pass."""
    import nbformat

    for path in SERIES:
        nb = nbformat.read(released / "notebooks" / path.name, as_version=4)
        tasks = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
        assert tasks, path.name
        for cell in tasks:
            assert "raise NotImplementedError" in cell.source, (path.name, cell.metadata["nbgrader"]["grade_id"])
