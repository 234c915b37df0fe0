"""``make demo``: the headline study, sized down, on the embedded store, then its report.

Runs ``conf/experiment/stall_demo.yaml`` with the joblib launcher on every core, writes the
report, and says where it is and how to open the MLflow UI.
"""

from __future__ import annotations

import sys
import time

from experiments.run import run_study
from harness.progress import format_eta
from harness.store import resolve_uri


def main() -> int:
    print(f"[demo] headline study (sized down) → {resolve_uri(None)}", flush=True)
    started = time.perf_counter()
    code = run_study("stall_demo")
    took = format_eta(time.perf_counter() - started)
    if code != 0:
        print(f"[demo] failed after {took} (exit {code})", file=sys.stderr)
        return code
    print(f"[demo] done in {took}.")
    print("[demo] browse the runs: make ui   (then open the URL it prints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
