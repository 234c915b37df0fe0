"""``python -m harness.ui`` (``make ui``): the MLflow UI on the embedded store, on 127.0.0.1.

Runs ``mlflow server`` (what ``mlflow ui`` runs) with one worker against the store that jobs
write to by default (``store/mlflow.db``, or ``$OPTLAB_STORE_DIR``), and prints the URL that
opens the model-training view: MLflow 3 starts in its GenAI view unless the URL carries
``workflowType=machine_learning`` (the experiments themselves are tagged
``mlflow.experimentKind=custom_model_development`` by ``harness.store``).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from harness.config import ConfigError
from harness.store import artifact_location, check_writable, quiet_mlflow, resolve_uri

ML_VIEW = "#/experiments?workflowType=machine_learning"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def view_url(host: str, port: int) -> str:
    """The URL of the model-training view; a wildcard bind is opened through 127.0.0.1.

    >>> view_url("127.0.0.1", 5000)
    'http://127.0.0.1:5000/#/experiments?workflowType=machine_learning'
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/{ML_VIEW}"


def to_command(host: str, port: int, uri: str) -> list[str]:
    """The ``mlflow server`` command line for ``uri`` (artifacts beside a SQLite store)."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    artifacts = artifact_location(uri)
    if artifacts is not None:
        command += ["--default-artifact-root", artifacts]
    return command + ["--host", host, "--port", str(port), "--workers", "1"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.ui",
        description="The MLflow UI on the embedded store (OPTLAB_STORE_DIR moves it).",
    )
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (5000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (127.0.0.1: this machine only)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Print where to look, then become the MLflow server (Ctrl-C stops it)."""
    args = parse_args(argv)
    quiet_mlflow()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    uri = resolve_uri(None)
    try:
        check_writable(uri)
    except ConfigError as error:
        sys.exit(f"error: cannot serve {uri}: {error.allowed}")
    if not is_loopback(args.host):
        print(
            f"warning: --host {args.host} serves the store to other machines, "
            "with no authentication",
            file=sys.stderr,
        )
    print(f"MLflow UI on {uri}\nopen {view_url(args.host, args.port)}", flush=True)
    command = to_command(args.host, args.port, uri)
    os.execv(command[0], command)  # signals reach the server itself, not a wrapper


if __name__ == "__main__":
    main()
