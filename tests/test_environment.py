"""requirements.txt and environment.yml must pin the same versions; the learner's install is a learner's."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)==([^\s#]+)")


def _pins(path):
    pins = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_requirements_and_environment_pin_the_same_versions():
    req = _pins(ROOT / "requirements.txt")
    env = _pins(ROOT / "environment.yml")
    assert req == env
    assert req["torch"] == "2.14.1" and req["torchvision"] == "0.29.1"
    for needed in ("matplotlib", "scikit-learn", "ipywidgets", "jupyterlab", "nbval", "papermill",
                   "tqdm", "pytest", "pillow", "ipykernel"):
        assert needed in req, needed


def test_every_dependency_says_why_it_is_there():
    for line in ((ROOT / "requirements.txt").read_text() + (ROOT / "requirements-instructor.txt").read_text()).splitlines():
        if PIN.match(line):
            assert "#" in line, f"no comment on {line!r}"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in {**_pins(ROOT / "requirements.txt"), **_pins(ROOT / "requirements-instructor.txt")}.items():
        assert version(name).split("+")[0] == pinned, name


def test_one_import_mechanism_the_editable_install(tmp_path):
    """`pip install -e .` makes `helpers` importable from anywhere: no script puts the repository
    on sys.path itself, and every tool and benchmark loads from another working directory."""
    import subprocess
    import sys

    scripts = sorted((ROOT / "tools").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    hacks = [p.relative_to(ROOT).as_posix() for p in scripts if "sys.path.insert" in p.read_text()]
    assert not hacks, f"put the repository on sys.path themselves: {hacks}"
    load = ("import runpy, sys, helpers; print(helpers.__file__)\n"
            "for path in sys.argv[1:]: runpy.run_path(path)")  # module level only: no __main__ block runs
    done = subprocess.run([sys.executable, "-c", load, *map(str, scripts)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == str(ROOT / "helpers" / "__init__.py")


def test_the_version_lives_in_pyproject_only():
    import tomllib
    from importlib.metadata import version

    import helpers

    assert not hasattr(helpers, "__version__")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert version("vae-latent-lab") == pyproject["project"]["version"]


def test_the_learners_jupyterlab_has_no_grading_tools(tmp_path):
    """What a learner installs (requirements.txt, as scripts/setup.sh and environment.yml do)
    brings no nbgrader: a JupyterLab installed from it lists no nbgrader lab or server extension
    (no Nbgrader menu, Validate button or Create Assignment panel), while the instructor's install
    (requirements-instructor.txt, this suite's .venv) does. torch and torchvision, which ship no
    Jupyter extension, are left out of the throw-away venv to keep it to a minute."""
    import subprocess
    import sys

    learner_reqs = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if not line.startswith(("torch==", "torchvision=="))]
    assert not [line for line in learner_reqs if line.lower().startswith("nbgrader")]
    (tmp_path / "learner.txt").write_text("\n".join(learner_reqs) + "\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "-r", str(tmp_path / "learner.txt")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]

    def extensions(bindir):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        lab = subprocess.run([str(bindir / "jupyter"), "labextension", "list"], capture_output=True, text=True, env=env)
        server = subprocess.run([str(bindir / "jupyter"), "server", "extension", "list"], capture_output=True, text=True,
                                env=env)
        assert lab.returncode == 0 and server.returncode == 0, lab.stderr[-1000:] + server.stderr[-1000:]
        return (lab.stdout + lab.stderr).lower(), (server.stdout + server.stderr).lower()

    lab, server = extensions(venv / "bin")
    assert "@jupyter-widgets/jupyterlab-manager" in lab      # the learner's own extension (the sliders) is there
    assert "nbgrader" not in lab and "nbgrader" not in server
    lab, server = extensions(Path(sys.executable).parent)   # the instructor's install: the check can fail
    assert "@jupyter/nbgrader" in lab and "nbgrader" in server
