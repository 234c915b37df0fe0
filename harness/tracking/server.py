"""``python -m harness.tracking.server`` (``make server``): a team's tracking server, on
PostgreSQL.

Runs ``mlflow server`` against the PostgreSQL database ``$OPTLAB_SERVER_DB`` (default
``postgresql://optlab:optlab@127.0.0.1:5432/optlab``, which ``.ci/setup-postgres`` creates) and
serves artifacts itself, from ``<project>/store/server-artifacts`` (``OPTLAB_STORE_DIR`` moves
``store/``), so clients need no shared disk. Jobs log to it with
``tracking.uri=http://127.0.0.1:5000``.

Like ``make ui`` it is light and quiet: no job-runner processes, no line per request unless
``--access-log``, and on 127.0.0.1 the loopback names as its allowed hosts (``--allowed-hosts``
replaces them).

It binds 127.0.0.1 unless told otherwise. The server has no authentication of its own: to open
it to a team, keep it on 127.0.0.1 behind a reverse proxy with TLS and logins, or start it with
``--basic-auth`` (MLflow's ``basic-auth`` app); see the README's "Team mode".
The database URI goes to the server through its environment, not its command line, so its
password does not show in ``ps``; it is printed without the password.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from harness.tracking.store import default_store_dir, quiet_mlflow, redact
from harness.tracking.ui import SERVER_ENV, base_url, is_loopback, quiet_options, view_url

DEFAULT_DB = "postgresql://optlab:optlab@127.0.0.1:5432/optlab"


def database_uri() -> str:
    return os.environ.get("OPTLAB_SERVER_DB") or DEFAULT_DB


def to_command(args: argparse.Namespace) -> list[str]:
    """The ``mlflow server`` command line (the database URI travels in the environment).

    >>> to_command(parse_args(["--port", "5001"]))[3:]  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
    ['server', '--serve-artifacts', '--artifacts-destination', '...server-artifacts',
     '--host', '127.0.0.1', '--port', '5001', '--workers', '1', '--uvicorn-opts',
     '--no-access-log', '--allowed-hosts', 'localhost:5001,127.0.0.1:5001']
    >>> to_command(parse_args(["--allowed-hosts", "mlflow.example.org"]))[-2:]
    ['--allowed-hosts', 'mlflow.example.org']
    """
    command = [sys.executable, "-m", "mlflow", "server", "--serve-artifacts"]
    command += ["--artifacts-destination", str(args.artifacts)]
    own_hosts = any(option.startswith("--allowed-hosts") for option in args.mlflow_options)
    command += quiet_options(args.host, args.port, args.access_log, args.workers, not own_hosts)
    if args.basic_auth:
        command += ["--app-name", "basic-auth"]
    return command + args.mlflow_options


def auth_env(folder: Path) -> dict[str, str]:
    """Environment for MLflow's basic-auth app: users in ``folder/server-auth.db`` (read-only
    unless granted more), a CSRF key kept in ``folder/server-secret.key`` (mode 600), and the
    first admin password from ``MLFLOW_AUTH_ADMIN_PASSWORD``."""
    if not os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD"):
        raise SystemExit(
            "error: --basic-auth needs MLFLOW_AUTH_ADMIN_PASSWORD, the admin's first password "
            "(used once, when the user database is created)"
        )
    config = folder / "server-auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'server-auth.db'}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    key = folder / "server-secret.key"
    if not key.exists():
        descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY")
        or key.read_text(),
    }


def check_database(uri: str) -> None:
    """Fail in one line when the database does not answer (before the server's slow start)."""
    import sqlalchemy

    try:
        with sqlalchemy.create_engine(uri).connect():
            pass
    except Exception as error:  # the driver's own errors: connection refused, bad password, ...
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise SystemExit(
            f"error: cannot reach the database {redact(uri)} ({reason}); "
            "start PostgreSQL (bash .ci/setup-postgres) or set OPTLAB_SERVER_DB"
        ) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.tracking.server",
        description=__doc__.split("\n")[0],
        epilog="Other options go to `mlflow server` as they are (e.g. --allowed-hosts).",
    )
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (5000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (127.0.0.1: this machine only)"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (1)")
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="where artifacts are kept (server-artifacts/ in the embedded store's folder: "
        "<project>/store/, or OPTLAB_STORE_DIR)",
    )
    parser.add_argument(
        "--basic-auth", action="store_true", help="require logins (MLflow's basic-auth app)"
    )
    parser.add_argument("--access-log", action="store_true", help="print a line for every request")
    args, args.mlflow_options = parser.parse_known_args(argv)
    args.artifacts = args.artifacts or default_store_dir() / "server-artifacts"
    return args


def main(argv: list[str] | None = None) -> None:
    """Check the database, print where to look and how to log, then become the server."""
    args = parse_args(argv)
    quiet_mlflow()
    uri = database_uri()
    check_database(uri)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    env = {**SERVER_ENV, **os.environ, "MLFLOW_BACKEND_STORE_URI": uri}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if args.basic_auth:
        env.update(auth_env(args.artifacts.parent))
    if not is_loopback(args.host):
        guard = "logins (basic-auth)" if args.basic_auth else "no authentication"
        print(
            f"warning: --host {args.host} serves the tracking server to other machines, with "
            f"{guard} and no TLS; prefer 127.0.0.1 behind a reverse proxy (README: Team mode)",
            file=sys.stderr,
        )
    shown = base_url(args.host, args.port)
    print(
        f"MLflow tracking server on {redact(uri)}, artifacts in {args.artifacts}\n"
        f"open {view_url(args.host, args.port)}\n"
        f"log with: python -m harness tracking.uri={shown}\n"
        "(it takes 10-45 s to answer)",
        flush=True,
    )
    command = to_command(args)
    os.execve(command[0], command, env)  # signals reach the server itself, not a wrapper


if __name__ == "__main__":
    main()
