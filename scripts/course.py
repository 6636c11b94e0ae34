"""Course tools for instructors: the nbgrader student release and the autograder.

    python scripts/course.py release OUTDIR       # student notebooks + the helpers they need, no solutions
    python scripts/course.py grade NOTEBOOK...    # autograde; one JSON line per notebook

The four core notebooks (01-04) are the nbgrader *source*: each task is a code cell with a
reference solution between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, followed by a locked test
cell (some of its checks between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``); questions
graded by hand are markdown answer cells. Both commands run nbgrader 0.9.6 itself
(``generate_assignment``, ``autograde``) in a throw-away course folder, so a grade here is the grade
an instructor's JupyterHub course gets from the same notebooks (docs/teaching.md).

``release`` writes OUTDIR/notebooks (the four student notebooks: solutions replaced by
``# YOUR CODE HERE``, hidden tests and outputs removed), OUTDIR/helpers (the package the core
notebooks import, with helpers/vae.py re-exported from the *student* notebook 02, so the package
holds stubs where notebook 02 has tasks; the modules only notebook 05 and the tools use, whose
code would show a student how to write some tasks, are left out), the two checkpoints notebooks
03-04 read, and what installs them (requirements.txt, pyproject.toml, scripts/setup.sh, a README). It checks its own output: no
line of any solution or hidden test may appear anywhere in it.

``grade`` accepts any notebook whose *file name* is one of the series notebooks, wherever it lies
(a student's copy or a full series notebook). The test cells are restored from the series source
(hidden tests included, so a student cannot edit or delete them away), the notebook runs top to bottom in a
fresh kernel, and each test cell that runs without error earns its points. It runs in smoke mode
(VAE_LAB_SMOKE=1: notebook 02 trains one short epoch on 2,000 images), because the tests check a
student's functions, not the training length; ``--full`` runs the notebooks' real defaults. It
prints, per notebook, in the order given:

    {"notebook": "02_train_vae.ipynb", "score": 10.0, "max_score": 10.0}

score / max_score count the autograded tasks; questions graded by hand are not in them. Each line
also holds ``tasks`` (per test cell, in notebook order: ``score``, ``max_score`` and, for a test
that failed, the ``error`` it raised: which property failed, expected and got), ``restored`` (the
test cells the submission lacked, deleted or with their nbgrader metadata stripped: put back from
the source and graded) and ``ungradable`` (test cells nbgrader could not score; they count 0).
Grading drops what the grading kernel writes to stderr (a warning of a correct answer, a progress
bar), which nbgrader would otherwise score as a failed test: see GRADING_CONFIG.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SERIES = ("01_data.ipynb", "02_train_vae.ipynb", "03_latent_visualization.ipynb",
          "04_generation_interpolation.ipynb")
ASSIGNMENT = "vae_lab"
LESSON_NOTEBOOK = "02_train_vae.ipynb"   # its `#| export` cells are helpers/vae.py
CHECKPOINTS = ("vae.pt", "vae2d.pt")     # what notebooks 03 and 04 read when no runs/ model exists
NOT_RELEASED = ("evaluation.py", "classifier.py")  # helpers only notebook 05 and tools/ use
EXTRA_FILES = ("results/study.csv", "results/study.png")  # package data that pyproject.toml maps (helpers.results)
INSTALL_FILES = ("requirements.txt", "pyproject.toml", "scripts/setup.sh")
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

STUDENT_README = """# VAE latent lab: student notebooks

Four notebooks, in order: `notebooks/01_data.ipynb`, `02_train_vae.ipynb`,
`03_latent_visualization.ipynb`, `04_generation_interpolation.ipynb`. Each has graded tasks: a
cell that says `# YOUR CODE HERE` is yours to write; the test cell after it checks your answer
(more checks run when your notebook is graded). Questions marked *graded by hand* are answered in
the cells that say `YOUR ANSWER HERE`. (The full series has an optional notebook 05, which the
notebooks mention; it is not part of this course.)

Set up once, from this folder: `bash scripts/setup.sh` (creates `.venv` with the pinned packages),
then `.venv/bin/jupyter lab notebooks`. Without internet, set `FASHION_MNIST_DIR` to a folder with
the four Fashion-MNIST `.gz` files. Notebook 02's training uses the code you write in it; the
package in `helpers/` holds those functions as stubs (your code stays in your notebook), and
notebooks 03 and 04 need none of them: they load the model you trained in 02 (`runs/vae.pt`) if
there is one, else the pretrained one in `checkpoints/`.
"""


class CourseError(RuntimeError):
    """A course command cannot run with what it was given; the message says what to do."""


def _export_lesson():
    """tools/export_lesson.py, loaded by path (a maintainer tool, not part of the package)."""
    spec = importlib.util.spec_from_file_location("export_lesson", ROOT / "tools" / "export_lesson.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _between(text: str, begin: str, end: str) -> list[str]:
    """The lines strictly between each begin/end marker pair of ``text``."""
    inside, found = False, []
    for line in text.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            found.append(line)
    return found


def secret_lines(notebook: Path) -> list[str]:
    """Every line a student must not be given: the solution lines of ``notebook``, the checks
    (``assert`` lines) of its hidden tests, and the reference answers of its questions graded by
    hand (its lines of 20 characters or more). Lines are stripped of indentation and of a trailing
    comment; blank and comment-only lines are left out."""
    cleaned = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            # a reference answer's lines; wrap remnants under 20 characters ("scale.") say nothing
            lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 20] if meta.get("solution") else []
        else:
            hidden_checks = [line for line in _between(text, BEGIN_HIDDEN, END_HIDDEN) if line.strip().startswith("assert")]
            lines = [line.split("  #")[0].strip() for line in _between(text, BEGIN_SOLUTION, END_SOLUTION) + hidden_checks]
        cleaned += [line for line in lines if line and not line.startswith("#")]
    return cleaned


def leaked_lines(release_dir: Path, sources=None) -> list[tuple[str, str]]:
    """(line, file) for every secret line of the series notebooks found in a text file of the release."""
    sources = sources or [NOTEBOOKS / name for name in SERIES]
    secrets = sorted({line for nb in sources for line in secret_lines(nb)})
    texts = {}
    for path in sorted(release_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                texts[path] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:  # checkpoints: binary
                continue
    found = []
    for path, text in texts.items():
        if path.suffix == ".ipynb":  # search the cells' text, not its JSON escaping
            text = "\n".join(_source(c) for c in json.loads(text)["cells"])
        found += [(line, str(path.relative_to(release_dir))) for line in secrets if line in text]
    return found


#: The grading settings a course needs beyond nbgrader's defaults (docs/teaching.md gives the same
#: lines for a JupyterHub's nbgrader_config.py): a test cell that a student deleted, or whose
#: nbgrader metadata was stripped, is put back from the source and graded; and nothing a grading
#: kernel writes to stderr (a warning of a correct answer, a progress bar, logging) costs points:
#: nbgrader scores a test cell 0 for any stderr output, so the stderr outputs of the graded copy
#: are dropped (an error still fails its cell; a student's own kernel still shows every warning).
GRADING_CONFIG = (
    "c.OverwriteCells.add_missing_cells = True\n"
    "c.IgnorePattern.enabled = True\n"
    "c.IgnorePattern.pattern = r'[\\s\\S]*'\n"
)


def _nbgrader(course: Path, *args: str, timeout: int | None = None, env: dict | None = None) -> None:
    """Run one nbgrader command on the throw-away course folder ``course``."""
    if importlib.util.find_spec("nbgrader") is None:
        raise CourseError("nbgrader is not installed in this environment: the course tools are the instructor's. "
                          "Run `bash scripts/setup.sh --instructor` (or pip install -r requirements-instructor.txt).")
    per_cell = -1 if timeout is None else timeout
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
        f"c.Execute.timeout = {per_cell}\n"
        "c.Execute.allow_errors = True\n"
        + GRADING_CONFIG
    )
    run_env = dict(os.environ if env is None else env)
    bindir = str(Path(sys.executable).parent)  # nbgrader calls `alembic` and starts kernels from PATH
    run_env["PATH"] = bindir + os.pathsep + run_env.get("PATH", "")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force", "--create"],
                            cwd=course, env=run_env, capture_output=True, text=True)
    if result.returncode != 0:
        raise CourseError(f"nbgrader {args[0]} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")


def _generate(course: Path, names) -> Path:
    """nbgrader generate_assignment for the series notebooks ``names``; returns the release folder."""
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(NOTEBOOKS / name, source / name)
    _nbgrader(course, "generate_assignment", ASSIGNMENT)
    return course / "release" / ASSIGNMENT


def release(outdir: Path) -> list[Path]:
    """Write the student release to ``outdir`` (new or empty); return the notebooks written."""
    outdir = Path(outdir)
    if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
        raise CourseError(f"OUTDIR={str(outdir)!r} is not allowed: it exists and is not an empty folder. "
                          f"Give a new folder; nothing was written.")
    with tempfile.TemporaryDirectory(prefix="vae-lab-course-") as tmp:
        released = _generate(Path(tmp), SERIES)
        staging = Path(tmp) / "out"
        (staging / "notebooks").mkdir(parents=True)
        for name in SERIES:
            shutil.copy2(released / name, staging / "notebooks" / name)
        shutil.copytree(ROOT / "helpers", staging / "helpers",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *NOT_RELEASED))
        export = _export_lesson()
        (staging / "helpers" / "vae.py").write_text(export.exported_source(staging / "notebooks" / LESSON_NOTEBOOK),
                                                    encoding="utf-8")
        os.symlink(Path("..") / "helpers", staging / "notebooks" / "helpers")  # as in the repository
        (staging / "checkpoints").mkdir()
        for name in CHECKPOINTS:
            shutil.copy2(ROOT / "checkpoints" / name, staging / "checkpoints" / name)
        for rel in INSTALL_FILES + EXTRA_FILES:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, staging / rel)
        (staging / "README.md").write_text(STUDENT_README, encoding="utf-8")
        leaks = leaked_lines(staging)
        if leaks:
            where = "; ".join(f"{line!r} in {path}" for line, path in leaks[:5])
            raise CourseError(f"the release would contain {len(leaks)} solution or hidden-test line(s): {where}. "
                              f"Nothing was written to {outdir}.")
        outdir.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            target = outdir / item.name
            if item.is_dir():
                shutil.copytree(item, target, symlinks=True)
            else:
                shutil.copy2(item, target)
    return [outdir / "notebooks" / name for name in SERIES]


def autograded_ids(cells) -> list[str]:
    """grade_id of every autograded test cell (a code cell with nbgrader grade) among ``cells``."""
    return [c["metadata"]["nbgrader"]["grade_id"] for c in cells
            if c["cell_type"] == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def _check_submission(path: Path) -> str:
    if not path.is_file():
        raise CourseError(f"NOTEBOOK={str(path)!r} is not allowed: there is no such file.")
    if path.name not in SERIES:
        raise CourseError(f"NOTEBOOK={str(path)!r} is not allowed: its file name must be one of the series "
                          f"notebooks ({', '.join(SERIES)}), which is how its tests are found. Rename the copy.")
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (ValueError, KeyError, UnicodeDecodeError) as err:
        raise CourseError(f"NOTEBOOK={str(path)!r} is not allowed: it is not a readable notebook ({err}).") from None
    if not any(c.get("metadata", {}).get("nbgrader") for c in cells):
        raise CourseError(f"NOTEBOOK={str(path)!r} is not allowed: it has no nbgrader cells. Grade a copy "
                          f"of the course release or of the series notebook, not a converted one.")
    return path.name


def _missing_tests(path: Path, name: str) -> list[str]:
    """The source's test cells that ``path`` lacks (deleted, or their nbgrader metadata stripped)."""
    have = set(autograded_ids(json.loads(path.read_text(encoding="utf-8"))["cells"]))
    return [i for i in autograded_ids(json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"])
            if i not in have]


def grade(paths, full: bool = False) -> list[dict]:
    """Autograde each notebook in ``paths``; returns one dict per notebook, in order."""
    paths = [Path(p) for p in paths]
    names = [_check_submission(p) for p in paths]
    restored = [_missing_tests(p, name) for p, name in zip(paths, names)]
    with tempfile.TemporaryDirectory(prefix="vae-lab-grade-") as tmp:
        course = Path(tmp)
        _generate(course, sorted(set(names)))
        for k, (path, name) in enumerate(zip(paths, names)):
            folder = course / "submitted" / f"student{k}" / ASSIGNMENT
            folder.mkdir(parents=True)
            shutil.copy2(path, folder / name)
        env = dict(os.environ, MPLBACKEND="Agg", VAE_LAB_RUNS_DIR=str(course / "runs"))
        if full:
            env.pop("VAE_LAB_SMOKE", None)
        else:
            env["VAE_LAB_SMOKE"] = "1"
        _nbgrader(course, "autograde", ASSIGNMENT, timeout=None if full else 1800, env=env)
        from nbgrader.api import Gradebook

        results = []
        with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gradebook:
            for k, name in enumerate(names):
                submission = gradebook.find_submission_notebook(Path(name).stem, ASSIGNMENT, f"student{k}")
                order = autograded_ids(json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"])
                auto = sorted((g for g in submission.grades if g.cell.cell_type == "code"),
                              key=lambda g: order.index(g.name) if g.name in order else len(order))
                errors = _errors(course / "autograded" / f"student{k}" / ASSIGNMENT / name)
                tasks = {}
                for g in auto:
                    tasks[g.name] = {"score": g.auto_score, "max_score": g.max_score}
                    if g.name in errors and (g.auto_score or 0.0) < g.max_score:
                        tasks[g.name]["error"] = errors[g.name]
                results.append({"notebook": name, "score": float(sum(g.auto_score or 0.0 for g in auto)),
                                "max_score": float(sum(g.max_score for g in auto)), "tasks": tasks,
                                "restored": restored[k], "ungradable": [g.name for g in auto if g.auto_score is None]})
    return results


def _errors(graded: Path) -> dict:
    """{grade_id: "ErrorName: message"} of the test cells that raised in an autograded notebook."""
    if not graded.is_file():
        return {}
    found = {}
    for cell in json.loads(graded.read_text(encoding="utf-8"))["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for out in cell.get("outputs", []) if grade_id else []:
            if out.get("output_type") == "error":
                found[grade_id] = f"{out.get('ename')}: {out.get('evalue')}"[:500]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("release", help="write the student notebooks and helpers to OUTDIR")
    make.add_argument("outdir", metavar="OUTDIR", type=Path)
    check = commands.add_parser("grade", help="autograde notebooks; one JSON line each")
    check.add_argument("notebooks", metavar="NOTEBOOK", nargs="+", type=Path)
    check.add_argument("--full", action="store_true", help="run the notebooks' real defaults, not smoke mode")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            written = release(args.outdir)
            print(f"released {len(written)} student notebooks, helpers and checkpoints to {args.outdir}")
        else:
            for row in grade(args.notebooks, full=args.full):
                print(json.dumps(row))
    except CourseError as err:
        print(f"course.py: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
