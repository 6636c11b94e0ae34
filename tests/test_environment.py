"""requirements.txt and environment.yml must pin the same versions."""

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
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if PIN.match(line):
            assert "#" in line, f"no comment on {line!r}"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in _pins(ROOT / "requirements.txt").items():
        assert version(name).split("+")[0] == pinned, name
