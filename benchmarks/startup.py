"""P6 — start-up of the command line: ``python -m harness --help`` and a refusal, now and before.

Every ``--help`` and every refused config pays the interpreter, Hydra and the lab's imports, and
Hydra's composition. Timed interleaved, as commands in a fresh process each:

- ``--help`` and a refusal (``optimizer.lr=-1``, exit code 2), as the lab starts now;
- the same two as the lab started before its start-up was trimmed: the job's modules imported
  up front (``harness.tracking.job``: numpy, the models, the data sets) and Hydra deep-copying
  the ConfigStore each time it copies its config repository (~80 times for ``--help``);
- the floor: ``python -c "import hydra"``, which any Hydra command pays.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.results import Comparison, Section
from benchmarks.timing import Ratio, interleave, median, time_call

HELP_GOAL_SECONDS = 2.0
REFUSAL = "optimizer.lr=-1"
#: The start-up before it was trimmed, rebuilt from today's code (see the module docstring).
BEFORE = (
    "import sys\n"
    "import harness.tracking.job\n"
    "from hydra.core.config_store import ConfigStore\n"
    "from harness.cli.main import main\n"
    "del ConfigStore.__deepcopy__\n"
    "main()\n"
)


def _command(args: list[str], folder: Path, code: int):
    """A side: run ``args`` in ``folder``; its exit code must be ``code``."""

    def run():
        done = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=600)
        if done.returncode != code:
            raise RuntimeError(f"{args[1:]} exited {done.returncode}:\n{done.stderr[-2000:]}")

    return run


def run(repeats: int, quick: bool, workdir: Path) -> Section:
    folder = workdir / "P6"
    folder.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    run_dir = f"hydra.run.dir={folder / 'outputs'}"
    commands = {
        "help now": ([python, "-m", "harness", "--help"], 0),
        "help before": ([python, "-c", BEFORE, "--help"], 0),
        "refusal now": ([python, "-m", "harness", REFUSAL, run_dir], 2),
        "refusal before": ([python, "-c", BEFORE, REFUSAL, run_dir], 2),
        "import hydra": ([python, "-c", "import hydra"], 0),
    }
    sides = {name: _command(args, folder, code) for name, (args, code) in commands.items()}
    for side in sides.values():  # warm the file cache and the bytecode
        time_call(side)
    times = interleave(sides, repeats)
    help_seconds = median(times["help now"])
    met = "met" if help_seconds <= HELP_GOAL_SECONDS else "MISSED"
    return Section(
        key="P6",
        title="start-up of the command line: --help and a refusal",
        commands=[
            "python -m harness --help",
            f"python -m harness {REFUSAL}   # refused: exit code 2",
            "python -c '<the start-up before: harness.tracking.job imported, the ConfigStore "
            "deep-copied>' --help   # and the refusal",
            "python -c 'import hydra'",
        ],
        comparisons=[
            Comparison("--help before ÷ now", Ratio.of(times["help before"], times["help now"])),
            Comparison(
                "refusal before ÷ now", Ratio.of(times["refusal before"], times["refusal now"])
            ),
            Comparison(
                "--help now ÷ import hydra", Ratio.of(times["help now"], times["import hydra"])
            ),
        ],
        notes=[
            "Median seconds: " + ", ".join(f"{n} {median(t):.2f} s" for n, t in times.items()),
            f"--help answers in {help_seconds:.2f} s (median): goal ≤ {HELP_GOAL_SECONDS:g} s "
            f"{met} at this section's load average.",
        ],
    )
