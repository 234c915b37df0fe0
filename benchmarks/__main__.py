"""``python -m benchmarks [--quick] [--only P1,P2,...]``: run the benchmarks, write RESULTS.md.

Everything a benchmark writes (stores, servers, clones, Hydra outputs) goes to one temporary
folder, removed at the end; ``OPTLAB_STORE_DIR`` and ``OPTLAB_CHECKPOINT_DIR`` point there, so
nothing lands in the project's store. MLflow's telemetry is off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

#: key → (module, repeats of a full run, repeats of a --quick run)
BENCHMARKS = {
    "P1": ("optim_update", 15, 3),
    "P2": ("tracking_overhead", 7, 2),
    "P3": ("sweep_throughput", 3, 1),
    "P4": ("analysis_load", 3, 2),  # its baseline takes ~1 min a repeat
    "P5": ("demo", 1, 1),
    "P6": ("startup", 7, 2),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the lab's benchmarks (P1-P6) and write benchmarks/RESULTS.md.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke check")
    parser.add_argument(
        "--only", default="", help="comma-separated subset, e.g. P1,P3 (default: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    chosen = [key.strip().upper() for key in args.only.split(",") if key.strip()]
    unknown = [key for key in chosen if key not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.keys = chosen or list(BENCHMARKS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="optlab-bench-"))
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["OPTLAB_STORE_DIR"] = str(workdir / "store")
    os.environ["OPTLAB_CHECKPOINT_DIR"] = str(workdir / "checkpoints")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    from benchmarks import machine, results

    try:
        for key in args.keys:
            run_one(key, args.quick, workdir, machine.describe())
    finally:
        if args.keep:
            print(f"[bench] kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sections = results.load_sections()
    results.RESULTS_MD.write_text(results.to_markdown(sections, machine.describe()))
    print(f"[bench] wrote {results.RESULTS_MD}", file=sys.stderr)
    return 0


def run_one(key: str, quick: bool, workdir: Path, machine_info: dict) -> None:
    import importlib

    from benchmarks import machine

    load = machine.load_average()
    module_name, full, fast = BENCHMARKS[key]
    module = importlib.import_module(f"benchmarks.{module_name}")
    repeats = fast if quick else full
    print(f"[bench] {key} ({module_name}, {repeats} repeats) …", file=sys.stderr, flush=True)
    started = time.perf_counter()
    section = module.run(repeats, quick, workdir)
    section.seconds = time.perf_counter() - started
    section.quick = quick
    section.measured_at = time.strftime("%Y-%m-%d %H:%M %Z")
    section.machine = {**machine_info, machine.LOAD: load}
    path = section.save()
    for comparison in section.comparisons:
        ratio = comparison.ratio
        print(
            f"[bench] {key} {comparison.label}: {ratio.median:.3g}× "
            f"({ratio.low:.3g}–{ratio.high:.3g}) {comparison.goal_text} {comparison.status}",
            file=sys.stderr,
        )
    print(f"[bench] {key} done in {section.seconds:.0f} s → {path.name}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
