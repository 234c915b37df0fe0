"""Data sets cached on disk as ``.npz``, shared by parallel jobs.

The cache lives under ``$OPTLAB_CACHE_DIR`` (default ``~/.cache/optimizer-lab``). Files are
written to a temporary name and moved into place with ``os.replace``, so parallel jobs never
read a half-written file.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CACHE_ENV = "OPTLAB_CACHE_DIR"


def cache_dir() -> Path:
    """Where cached data sets live: ``$OPTLAB_CACHE_DIR``, else ``~/.cache/optimizer-lab``.

    >>> cache_dir().name != ""
    True
    """
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "optimizer-lab")


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_npz_atomic(Path(folder) / "a.npz", x=np.arange(3))
    ...     sorted(p.name for p in Path(folder).iterdir()), read_npz(Path(folder) / "a.npz")["x"]
    (['a.npz'], array([0, 1, 2]))
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays stored at ``path``, or ``None`` if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
