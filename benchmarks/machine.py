"""What the numbers were measured on: CPU, cores, load, Python, numpy and its BLAS."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The ``model name`` line of ``/proc/cpuinfo``, else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> str:
    """numpy's BLAS as built (``numpy.show_config``) and as loaded (threadpoolctl)."""
    import numpy as np

    built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    text = f"{built.get('name')} {built.get('version')} (built)"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return text
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            text += (
                f"; loaded: {pool.get('internal_api')} {pool.get('version')}, "
                f"kernel {pool.get('architecture')}, {pool.get('num_threads')} threads"
            )
    return text


def versions() -> dict[str, str]:
    import mlflow
    import numpy as np

    found = {"python": platform.python_version(), "numpy": np.__version__}
    found["mlflow"] = mlflow.__version__
    try:
        import torch

        found["torch"] = torch.__version__
    except ImportError:
        found["torch"] = "not installed"
    return found


LOAD = "load average (1, 5, 15 min) at start"


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def describe() -> dict[str, str]:
    """Everything the report's machine section shows, as strings."""
    info = {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "blas": blas(),
    }
    info.update(versions())
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        if os.environ.get(name):
            info[name] = os.environ[name]
    return info
