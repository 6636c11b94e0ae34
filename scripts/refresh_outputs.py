"""Copy the executed notebooks of the last `bash scripts/run_series.sh` into notebooks/.

    bash scripts/run_series.sh && .venv/bin/python scripts/refresh_outputs.py

The committed notebooks carry the outputs of a learner's default run (nbval compares the cells
marked NBVAL_CHECK_OUTPUT against them). Papermill's run metadata is dropped. Every code cell must
be unchanged since the run, else this refuses; markdown cells are taken from the current
notebook (prose edited after the run does not change any output).
"""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
for executed in sorted((ROOT / "outputs" / "series").glob("0*.ipynb")):
    target = ROOT / "notebooks" / executed.name
    nb, src = nbformat.read(executed, as_version=4), nbformat.read(target, as_version=4)
    if [(c.cell_type, c.source if c.cell_type == "code" else "") for c in nb.cells] != \
            [(c.cell_type, c.source if c.cell_type == "code" else "") for c in src.cells]:
        raise SystemExit(f"{target.name}'s code changed since the series ran: run scripts/run_series.sh again")
    for ran, now in zip(nb.cells, src.cells):
        if now.cell_type == "markdown":
            ran.source = now.source
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, target)
    print(f"refreshed {target.relative_to(ROOT)}")
