"""A sweep's ETA: paced from its first job's end, it converges within the first 10 % of jobs
even when that first job carries the sweep's start-up (imports, store, data, workers)."""

from __future__ import annotations

from benchmarks.demo import eta_notes
from harness.tracking.sweep import FIRST_END_FILE, eta_seconds, forget_sweep_files


def simulated_lines(folder, total=100, startup=60.0, job=2.0, workers=2):
    """Progress lines of a sweep whose jobs take ``job`` s on ``workers`` workers after a
    ``startup`` every worker pays once, as ``harness.cli.app`` prints them."""
    lines = []
    for done in range(1, total + 1):
        now = startup + job * ((done + workers - 1) // workers)
        eta = eta_seconds(folder, 0.0, done, total, now)
        minutes, seconds = divmod(int(round(eta)), 60)
        lines.append((now, f"[{done}/{total}] FINISHED job-{done} | ETA {minutes}m{seconds:02d}s"))
    return lines


def converged_at(note: str) -> int:
    return int(note.split("from job ")[1].split()[0])


def test_the_eta_converges_within_a_tenth_of_the_jobs(tmp_path):
    lines = simulated_lines(tmp_path)
    (note,) = eta_notes(lines)
    assert converged_at(note) <= 10, note


def test_paced_from_the_start_the_same_sweep_converges_late(tmp_path):
    """The estimate this replaced (elapsed since the start ÷ jobs done) fails the same check,
    so the check can fail."""
    lines = []
    for done in range(1, 101):
        now = 60.0 + 2.0 * ((done + 1) // 2)
        eta = now / done * (100 - done)
        minutes, seconds = divmod(int(round(eta)), 60)
        lines.append((now, f"[{done}/100] FINISHED job | ETA {minutes}m{seconds:02d}s"))
    (note,) = eta_notes(lines)
    assert converged_at(note) > 10, note


def test_a_relaunch_starts_a_new_clock(tmp_path):
    eta_seconds(tmp_path, 0.0, 1, 10, 50.0)
    assert (tmp_path / FIRST_END_FILE).read_text() == "50.0 1"
    forget_sweep_files(tmp_path)
    assert not (tmp_path / FIRST_END_FILE).exists()
    assert eta_seconds(tmp_path, 100.0, 1, 10, 105.0) == 45.0


def test_two_jobs_ending_together_still_start_the_clock(tmp_path):
    """Both count 2 ends (each appended its line, then counted): neither saw 1, and the first
    to record holds the clock; the watcher of a Slurm sweep reads it but never records."""
    assert eta_seconds(tmp_path, 0.0, 2, 10, 62.0, mark=False) == 62.0 / 2 * 8
    assert not (tmp_path / FIRST_END_FILE).exists()
    eta_seconds(tmp_path, 0.0, 2, 10, 62.0)
    eta_seconds(tmp_path, 0.0, 2, 10, 62.5)
    assert (tmp_path / FIRST_END_FILE).read_text() == "62.0 2"
    assert eta_seconds(tmp_path, 0.0, 3, 10, 64.0) == (64.0 - 62.0) / 1 * 7
    assert list(tmp_path.glob(".optlab/*")) == [tmp_path / FIRST_END_FILE]  # no partial left


def test_eta_notes_reads_each_sweep_of_a_log_apart():
    lines = [(1.0, "[1/2] a | ETA 1s"), (2.0, "[2/2] b | ETA 0s")]
    lines += [(3.0, "noise"), (5.0, "[1/2] c | ETA 2s"), (7.0, "[2/2] d | ETA 0s")]
    assert len(eta_notes(lines)) == 2
