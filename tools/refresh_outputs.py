"""Copy the executed notebooks of the last `bash scripts/run_series.sh` into notebooks/.

    bash scripts/run_series.sh && .venv/bin/python tools/refresh_outputs.py

The committed notebooks carry the outputs of a learner's default run (nbval compares the cells
tagged ``nbval-check-output`` against them). Papermill's run metadata is dropped. Every code cell
must be unchanged since the run, else this refuses; markdown cells are taken from the current
notebook (prose edited after the run does not change any output).

Progress bars are dropped: a saved notebook can only show a tqdm bar's text fallback as it was
when the bar appeared ("0%|"), which reads wrong in a static view (GitHub, nbviewer, a PDF); the
one line per epoch that training prints stays, merged with the other printed lines of its cell
into one block.
"""

import re

import nbformat

from helpers.config import PROJECT_ROOT


_BAR = re.compile(r"\d+%\|")


def is_progress_bar(output) -> bool:
    """A tqdm bar: a widget display (or stderr text) whose plain text is a bar like ' 0%|   | 0/60000'."""
    if output.get("output_type") == "display_data":
        return bool(_BAR.search(output.get("data", {}).get("text/plain", "")))
    return output.get("output_type") == "stream" and output.get("name") == "stderr" and bool(_BAR.search(output.get("text", "")))


def merged_streams(outputs: list) -> list:
    """Consecutive stream outputs of the same name (one per print or per epoch line) as one block,
    as a static renderer should show them."""
    merged = []
    for o in outputs:
        if merged and o.get("output_type") == "stream" and merged[-1].get("output_type") == "stream" \
                and merged[-1].get("name") == o.get("name"):
            merged[-1]["text"] += o["text"]
        else:
            merged.append(o)
    return merged


def refresh(series_dir=PROJECT_ROOT / "outputs" / "series", notebooks_dir=PROJECT_ROOT / "notebooks") -> None:
    for executed in sorted(series_dir.glob("0*.ipynb")):
        target = notebooks_dir / executed.name
        ran, nb = nbformat.read(executed, as_version=4), nbformat.read(target, as_version=4)
        ran_code = [c for c in ran.cells if c.cell_type == "code"]
        now_code = [c for c in nb.cells if c.cell_type == "code"]
        if [c.source for c in ran_code] != [c.source for c in now_code]:
            raise SystemExit(f"{target.name}'s code changed since the series ran: run scripts/run_series.sh again")
        for r, c in zip(ran_code, now_code):  # markdown stays as it is now; code cells get the run's outputs
            c.outputs = merged_streams([o for o in r.outputs if not is_progress_bar(o)])
            c.execution_count = r.execution_count
            c.metadata.pop("papermill", None)
            c.metadata.pop("execution", None)
        nb.metadata.pop("papermill", None)
        nbformat.write(nb, target)
        print(f"refreshed {target.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    refresh()
