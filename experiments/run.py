"""Launch a study as one Hydra multirun, then write its report.

python -m experiments.run stall                      # the full headline study
python -m experiments.run shift --launcher basic     # one job at a time
python -m experiments.run stall -- trainer.steps=500 # extra Hydra overrides after --
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from experiments import STUDIES


def sweep_command(preset: str, launcher: str, overrides: list[str]) -> list[str]:
    """The ``python -m harness -m …`` command that runs a study's preset."""
    command = [sys.executable, "-m", "harness", "-m", f"experiment={preset}"]
    if launcher == "joblib":
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={os.cpu_count() or 1}"]
    elif launcher != "basic":
        command.append(f"hydra/launcher={launcher}")
    return command + ["hydra/hydra_logging=none", *overrides]


def report_command(experiment: str, tracking_uri: str | None) -> list[str]:
    command = [sys.executable, "-m", "analysis.report", "--experiment", experiment]
    return command + (["--tracking-uri", tracking_uri] if tracking_uri else [])


def run_study(name: str, launcher: str = "joblib", overrides=(), report: bool = True) -> int:
    """Run the sweep and then the report; the exit code of the first step that fails."""
    study = STUDIES[name]
    code = subprocess.call(sweep_command(study.preset, launcher, list(overrides)))
    if code != 0 or not report:
        return code
    experiment = name.removesuffix("_demo")
    uri = next((o.split("=", 1)[1] for o in overrides if o.startswith("tracking.uri=")), None)
    return subprocess.call(report_command(experiment, uri))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument(
        "--launcher",
        default="joblib",
        help="joblib (default, all cores), basic, submitit_local, submitit_slurm",
    )
    parser.add_argument("--no-report", action="store_true", help="run the sweep only")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, after --")
    args = parser.parse_intermixed_args(argv)  # flags may come after the overrides too
    return run_study(args.study, args.launcher, args.overrides, report=not args.no_report)


if __name__ == "__main__":
    sys.exit(main())
