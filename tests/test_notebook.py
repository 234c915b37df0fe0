"""notebooks/lecture_to_lab.ipynb runs top to bottom, and the claims it asserts hold."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "lecture_to_lab.ipynb"


def load_cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def code_sources() -> list[str]:
    return ["".join(cell["source"]) for cell in load_cells() if cell["cell_type"] == "code"]


def test_notebook_is_nbformat_4_with_empty_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4 and notebook["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in notebook["cells"]]
    assert len(set(ids)) == len(ids)
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert len(code) >= 6
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


def test_notebook_writes_the_lectures_classes_and_checks_them_bit_for_bit():
    sources = "\n".join(code_sources())
    assert "class LectureRMSprop" in sources and "self.h[key] *= self.decay_rate" in sources
    assert 'np.array_equal(lecture.h[key], lab.state["h"][key])' in sources
    assert "to_findings(" in sources and "load_study(" in sources


@pytest.fixture
def executed(monkeypatch):
    """Every code cell run in order in one namespace, at the tiny size; what they left."""
    monkeypatch.setenv("OPTLAB_NOTEBOOK_SIZE", "tiny")
    namespace: dict = {"__name__": "__main__"}
    try:
        with mock.patch.dict(os.environ):  # whatever a cell sets, the test process gets back
            for number, source in enumerate(code_sources(), start=1):
                exec(compile(source, f"{NOTEBOOK.name} code cell {number}", "exec"), namespace)
        yield namespace
    finally:
        if isinstance(namespace.get("work"), Path):
            shutil.rmtree(namespace["work"], ignore_errors=True)


@pytest.mark.slow  # a sweep of six jobs, in a subprocess: ~30 s on 2 cores
@pytest.mark.full  # make test-long and CI
def test_every_code_cell_runs_and_its_assertions_hold(executed):
    work = executed["work"]
    assert work.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert (work / "store" / "mlflow.db").is_file()  # the sweep went to the temporary store
    assert len(executed["study"].runs) == 3 * executed["SEEDS"] == 6
    findings = executed["findings"]
    assert len(findings) >= 3 and findings["study"].eq("lecture").all()
    assert executed["gif"].read_bytes()[:6] == b"GIF89a"
