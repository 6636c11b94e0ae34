"""The training benchmark reads notebook 02's defaults from the notebook itself, so it times the
default run a learner gets (not a copy of it that could drift)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_speed import NOTEBOOK_02, notebook_defaults  # noqa: E402


def _executed_parameters(smoke: bool) -> dict:
    cell = next(c for c in json.loads(NOTEBOOK_02.read_text())["cells"]
                if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"]).replace("from helpers.config import smoke_mode", "")
    values = {"smoke_mode": lambda: smoke}  # (02 has no smoke branch now: CI's sizes come after the cell)
    exec(source, values)
    return {k: v for k, v in values.items() if k.isupper()}


def test_benchmark_defaults_are_the_notebooks_non_smoke_parameters():
    from train_speed import LESSON_RECIPE

    read = notebook_defaults()
    executed = _executed_parameters(smoke=False)
    assert read == {**LESSON_RECIPE, **{k: v for k, v in executed.items() if k != "SMOKE"}}
    for key in ("EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "LR_SCHEDULE", "SIGMA_LR_FACTOR", "PRECISION"):
        assert key in read
