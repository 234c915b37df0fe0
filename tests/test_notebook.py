"""docs/lecture_to_lab.py, the lecture notebook's only source (a jupytext percent script),
executes as a notebook in a real kernel (nbclient) at the tiny size, its claims hold, and no
committed .ipynb drifts from it."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

PROJECT = Path(__file__).resolve().parents[1]
SOURCE = PROJECT / "docs" / "lecture_to_lab.py"
HEADER = re.compile(r"\A# ---\n(?:#.*\n)*?# ---\n")  # jupytext's YAML header


def code_sources(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_the_source_is_a_percent_script_in_jupytexts_own_form():
    """Opened in Jupyter and saved back, the script comes out as it is (header aside)."""
    text = SOURCE.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, "py:percent")
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds.count("code") >= 10 and kinds.count("markdown") >= 6
    written = jupytext.writes(notebook, "py:percent")
    assert HEADER.sub("", written) == HEADER.sub("", text)


def test_the_notebook_writes_the_lectures_class_and_sweeps_through_the_python_api():
    sources = code_sources(jupytext.read(SOURCE))
    assert "class LectureRMSprop" in sources and "self.h[key] *= self.decay_rate" in sources
    assert 'np.array_equal(lecture.h[key], lab.state["h"][key])' in sources
    assert "run_job(" in sources and "load_study(" in sources and "to_findings(" in sources
    assert "subprocess" not in sources  # no shell call: the lab's own functions


def committed_notebooks() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    return [PROJECT / line for line in listed.stdout.splitlines()]


def test_a_committed_notebook_has_the_cells_of_its_source():
    """The .py is the source; ``make notebook`` builds the .ipynb under reports/. A notebook
    committed anyway must hold exactly the cells of ``docs/<its name>.py``."""
    for path in committed_notebooks():
        source = PROJECT / "docs" / f"{path.stem}.py"
        assert source.is_file(), f"{path} has no source docs/{path.stem}.py"
        cells = lambda nb: [(c.cell_type, c.source) for c in nb.cells]  # noqa: E731
        assert cells(jupytext.read(path)) == cells(jupytext.read(source)), path


@pytest.fixture(scope="module")
def executed():
    """The notebook run top to bottom in a Python kernel at the tiny size; its working folder
    is removed afterwards."""
    notebook = jupytext.read(SOURCE)
    work = None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPTLAB_NOTEBOOK_SIZE", "tiny")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        client = NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}
        )
        try:
            client.execute()
            first = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
            work = Path(re.search(r"working in (\S+):", first).group(1))
            yield notebook, work
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)


def outputs(notebook, kind: str) -> list:
    return [o for cell in notebook.cells for o in cell.get("outputs", []) if kind in o]


@pytest.mark.slow  # a kernel and six tracked jobs of 60 steps: ~30 s on 2 cores
def test_every_cell_runs_in_a_kernel_and_shows_its_figures_and_findings(executed):
    notebook, work = executed
    assert work.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert (work / "store" / "mlflow.db").is_file()  # the sweep went to the temporary store
    errors = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in errors if o.get("output_type") == "error"]
    pngs = [o for o in outputs(notebook, "data") if "image/png" in o["data"]]
    assert len(pngs) == 4  # the slope, and the report's loss, effective-step, accumulator
    printed = "".join(o["text"] for o in outputs(notebook, "text"))
    assert "6 jobs" in printed and "equal bit for bit" in printed
    sentences = re.findall(r"^- \*\*(held|did not hold|unresolved)\*\* — ", printed, re.M)
    assert len(sentences) >= 3
