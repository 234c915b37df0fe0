"""Progress a person can follow without a flooded terminal.

A single job shows a tqdm bar on a terminal (none in logs or pipes). Jobs of a sweep show no
bar: each prints one line when it ends, ``[done/total] name STATUS …``, counted across processes
through a file in the sweep folder, so the count is right under any launcher.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

UPDATE_EVERY = 50


class ProgressSink:
    """A ``harness.core.train.Sink`` driving a tqdm bar, touched every ``UPDATE_EVERY`` steps."""

    def __init__(self, steps: int, name: str, enabled: bool = True):
        self.steps, self.name, self.enabled = steps, name, enabled
        self.bar = None
        self.shown = 0

    def on_start(self, curves):
        if not self.enabled:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.steps,
            desc=self.name,
            unit="step",
            leave=False,
            disable=None,
            mininterval=0.5,
            file=sys.stderr,
        )

    def on_step(self, step, curves):
        if self.bar is not None and step % UPDATE_EVERY == 0:
            self.bar.update(step - self.shown)
            self.shown = step

    def on_checkpoint(self, state):
        pass

    def on_end(self, result):
        if self.bar is not None:
            self.bar.close()


def count_done(progress_file: Path, line: str) -> int:
    """Append ``line`` to the sweep's progress file and return how many jobs have ended."""
    progress_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(progress_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())  # one write: atomic with O_APPEND
    finally:
        os.close(fd)
    with open(progress_file) as handle:
        return sum(1 for _ in handle)


def format_eta(seconds: float) -> str:
    """``"1m05s"`` style.

    >>> format_eta(65.2), format_eta(3.0)
    ('1m05s', '3s')
    """
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
