"""Copy the executed notebooks of the last `bash scripts/run_series.sh` into notebooks/.

    bash scripts/run_series.sh && .venv/bin/python scripts/refresh_outputs.py

The committed notebooks carry the outputs of a learner's default run (nbval compares the cells
marked NBVAL_CHECK_OUTPUT against them). Papermill's run metadata is dropped; the sources must
be unchanged since the run, else this refuses.
"""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
for executed in sorted((ROOT / "outputs" / "series").glob("0*.ipynb")):
    target = ROOT / "notebooks" / executed.name
    nb, src = nbformat.read(executed, as_version=4), nbformat.read(target, as_version=4)
    if [c.source for c in nb.cells] != [c.source for c in src.cells]:
        raise SystemExit(f"{target.name} changed since the series ran: run scripts/run_series.sh again")
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, target)
    print(f"refreshed {target.relative_to(ROOT)}")
