"""A throwaway local ``mlflow server`` on SQLite, for the benchmarks that log over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 180  # seconds; it usually answers in 10-45 s, slower on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(folder: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


@contextlib.contextmanager
def tracking_server(folder: Path) -> Iterator[str]:
    """Start a server storing under ``folder``; yield its URI once /health answers; stop it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        server_command(folder, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        start_new_session=True,  # its own process group: stopping it stops its workers
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(uri, server)
        yield uri
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def wait_healthy(uri: str, server: subprocess.Popen) -> float:
    """Seconds until ``uri/health`` answered; raises if the server died or never answered."""
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {server.returncode} (see server.log)")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{uri}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server at {uri} did not answer within {START_TIMEOUT} s")
