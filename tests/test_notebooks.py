"""The structure every lesson notebook must have. Each notebook's papermill runs live in
tests/test_notebook_0N.py."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import NB_DIR

NOTEBOOKS = ["01_data", "02_train_vae", "03_latent_visualization", "04_generation_interpolation",
             "05_going_further", "06_higher_resolution"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_a_lesson(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    assert "## What you will learn" in nb.cells[0].source and "## What you need" in nb.cells[0].source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=", tagged[0].source, re.M)
    assert {"SEED", "DATA_DIR"} <= set(names)
    for line in tagged[0].source.splitlines():
        if re.match(r"^[A-Z_]+\s*=", line):
            assert "#" in line, f"{name}: parameter without a comment: {line}"
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    start = next((i for i, s in enumerate(markdown) if "## Exercises" in s), None)
    assert start is not None, f"{name}: no exercises section"
    exercises = sum(len(re.findall(r"\*\*Exercise \d|^\d+\. \*\*", s, re.M)) for s in markdown[start:])
    assert exercises >= 3, f"{name}: {exercises} exercises after '## Exercises'"
    assert any(s.lstrip().startswith("## References") for s in markdown), f"{name}: no references cell"
    code = [c for c in nb.cells if c.cell_type == "code"]
    # nbval compares the outputs of cells tagged nbval-check-output; no test markers in the source
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in code)
    assert not any("NBVAL_" in c.source for c in code)
    # one call checks every parameter: no hand-written checks in the notebook
    checks = [c for c in code if re.search(r"\bcheck_(notebook_)?parameters\(", c.source)]
    assert len(checks) == 1
    assert not any(re.search(r"\bcheck_(?!parameters|notebook_parameters)\w+\(", c.source) for c in code)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_parameter_is_checked_before_any_work(name):
    """The cell right after the parameters cell passes every parameter to the one check_parameters
    call, so a bad value of any of them stops the notebook with the rule's message (helpers.config,
    tested in test_config.py) before data, models or training; test_notebook_02.py shows one such
    stop end to end under papermill, and 03 / 04 their data-dependent checks."""
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"][1:]  # after the install cell (test_install.py)
    assert "parameters" in code[0].metadata.get("tags", [])
    names = [n for n in re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=", code[0].source, re.M) if n != "SMOKE"]
    if "check_notebook_parameters(globals())" in code[1].source:   # every rule-bearing name, by construction
        mark = "check_notebook_parameters("
        from helpers.config import RULES
        assert set(names) <= set(RULES), set(names) - set(RULES)
    else:
        mark = "check_parameters("
        call = code[1].source[code[1].source.index(mark):]
        assert [n for n in names if not re.search(rf"\b{n}={n}\b", call)] == []
    # nothing but imports, definitions, constants and the CI sizes' one line runs before the check
    before = code[1].source[:code[1].source.index(mark)]
    assert not re.search(r"^(?!from |import |%|\s|#|$|smoke_sizes\(globals\(\), )\w+\(", before, re.M), before


@pytest.mark.parametrize("name,budget", [("01_data", 2000), ("02_train_vae", 2500),
                                         ("03_latent_visualization", 2000), ("04_generation_interpolation", 2000)])
def test_core_notebook_reads_within_its_word_budget(name, budget):
    """A 45-minute lab: the markdown of each core notebook stays within its budget of words (\\w+ tokens)."""
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    words = sum(len(re.findall(r"\w+", c.source)) for c in nb.cells if c.cell_type == "markdown")
    assert words <= budget, f"{name}: {words} words of markdown, budget {budget}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_outputs_show_no_warning_or_error(name):
    """What a reader sees under each cell is the lesson's own output: no warning, traceback or
    other stderr text (nbgrader would also score a test cell that writes to stderr 0)."""
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{name} cell {i}: {out.get('ename')}"
            if out.output_type == "stream" and out.name == "stderr":
                pytest.fail(f"{name} cell {i} writes to stderr: {out.text[:300]}")
