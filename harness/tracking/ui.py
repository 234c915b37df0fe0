"""``python -m harness.tracking.ui`` (``make ui``): the MLflow UI on the embedded store, on
127.0.0.1.

Runs ``mlflow server`` (what ``mlflow ui`` runs) against the store that jobs write to by default
(``store/mlflow.db``, or ``$OPTLAB_STORE_DIR``), kept light and quiet: one web worker, no
job-runner processes (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``; they serve GenAI features
the lab does not use), no line per request unless ``--access-log``, and the loopback names as
its allowed hosts.

Before it starts it prints a link per study that lands on that study's runs table, and one to
its latest sweep's report: MLflow 3 picks its view from the URL's ``workflowType``, then from
what the browser last chose in the sidebar, else it opens its GenAI view.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from harness.core.config import ConfigError
from harness.tracking.store import artifact_location, check_writable, quiet_mlflow, resolve_uri

ML_WORKFLOW = "workflowType=machine_learning"
ML_VIEW = f"#/experiments?{ML_WORKFLOW}"
SWEEP_FILTER = "tags.`optlab.role` = 'sweep'"  # a sweep's parent run (harness.tracking.sweep)
REPORT_DIR, REPORT_PAGE = "report", "report/report.html"  # where analysis.report logs it
TOGGLE_HINT = (
    'Without a link MLflow opens its GenAI view: choose "Model training" in its sidebar '
    "once, and later clicks land on the runs tables."
)
#: The server's environment (set unless already set): no job-runner processes (8 of them,
#: ~0.8 GB), and not the warning that MLflow's own import of starlette's WSGI module raises.
SERVER_ENV = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONWARNINGS": "ignore:starlette.middleware.wsgi is deprecated",
}


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


def base_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server; a wildcard bind via 127.0.0.1.

    >>> base_url("0.0.0.0", 5000), base_url("::1", 5000)
    ('http://127.0.0.1:5000', 'http://[::1]:5000')
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def view_url(host: str, port: int) -> str:
    """The URL of the model-training view of every experiment.

    >>> view_url("127.0.0.1", 5000)
    'http://127.0.0.1:5000/#/experiments?workflowType=machine_learning'
    """
    return f"{base_url(host, port)}/{ML_VIEW}"


def runs_url(base: str, experiment_id: str) -> str:
    """The link that opens an experiment's runs table.

    >>> runs_url("http://127.0.0.1:5000", "3")
    'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning'
    """
    return f"{base}/#/experiments/{experiment_id}/runs?{ML_WORKFLOW}"


def report_url(base: str, experiment_id: str, run_id: str) -> str:
    """The link that opens a sweep's report in the parent run's artifact view (without
    ``workflowType`` the page around it is the GenAI view's, "Evaluations").

    >>> report_url("http://127.0.0.1:5000", "3", "ab12")  # doctest: +NORMALIZE_WHITESPACE
    'http://127.0.0.1:5000/#/experiments/3/runs/ab12/artifacts/report/report.html?workflowType=machine_learning'
    """
    route = f"#/experiments/{experiment_id}/runs/{run_id}/artifacts/{REPORT_PAGE}"
    return f"{base}/{route}?{ML_WORKFLOW}"


def latest_report_run(client, experiment_id: str, look_back: int = 5) -> str | None:
    """The newest sweep parent run of the experiment that has a report logged, or None."""
    sweeps = client.search_runs(
        [experiment_id],
        filter_string=SWEEP_FILTER,
        order_by=["attributes.start_time DESC"],
        max_results=look_back,
    )
    for sweep in sweeps:
        logged = {item.path for item in client.list_artifacts(sweep.info.run_id, REPORT_DIR)}
        if REPORT_PAGE in logged:
            return sweep.info.run_id
    return None


def study_links(uri: str, base: str) -> list[str]:
    """One line per experiment of the store ``uri`` that has runs, ``<name>: <runs table
    link>``, followed by ``<name> report: <link>`` when a sweep of it has a report logged.

    Two queries per experiment and one artifact listing per sweep looked at.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    lines = []
    for experiment in sorted(client.search_experiments(), key=lambda e: e.name):
        experiment_id = experiment.experiment_id
        if not client.search_runs([experiment_id], max_results=1):
            continue
        lines.append(f"{experiment.name}: {runs_url(base, experiment_id)}")
        report_run = latest_report_run(client, experiment_id)
        if report_run:
            lines.append(f"{experiment.name} report: {report_url(base, experiment_id, report_run)}")
    return lines


def allowed_hosts(host: str, port: int) -> str:
    """The Host headers a browser on this machine sends to a loopback server on ``port``.

    >>> allowed_hosts("127.0.0.1", 5000)
    'localhost:5000,127.0.0.1:5000'
    """
    names = ["localhost", "127.0.0.1"]
    if host not in names:
        names.append(f"[{host}]" if ":" in host else host)
    return ",".join(f"{name}:{port}" for name in names)


def quiet_options(
    host: str, port: int, access_log: bool = False, workers: int = 1, guard_hosts: bool = True
) -> list[str]:
    """``mlflow server`` options: ``workers`` web workers, no access log unless asked, and on
    loopback the loopback names as allowed hosts (else MLflow advises binding 0.0.0.0 at every
    start); ``guard_hosts=False`` leaves the allowed hosts to the caller.

    >>> quiet_options("127.0.0.1", 5000)  # doctest: +NORMALIZE_WHITESPACE
    ['--host', '127.0.0.1', '--port', '5000', '--workers', '1',
     '--uvicorn-opts', '--no-access-log', '--allowed-hosts', 'localhost:5000,127.0.0.1:5000']
    """
    options = ["--host", host, "--port", str(port), "--workers", str(workers)]
    if not access_log:
        options += ["--uvicorn-opts", "--no-access-log"]
    if guard_hosts and is_loopback(host):
        options += ["--allowed-hosts", allowed_hosts(host, port)]
    return options


def to_command(host: str, port: int, uri: str, access_log: bool = False) -> list[str]:
    """The ``mlflow server`` command line for ``uri`` (artifacts beside a SQLite store)."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    artifacts = artifact_location(uri)
    if artifacts is not None:
        command += ["--default-artifact-root", artifacts]
    return command + quiet_options(host, port, access_log)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.tracking.ui",
        description="The MLflow UI on the embedded store (OPTLAB_STORE_DIR moves it).",
    )
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (5000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (127.0.0.1: this machine only)"
    )
    parser.add_argument("--access-log", action="store_true", help="print a line for every request")
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
    base = base_url(args.host, args.port)
    links = "".join(f"  {line}\n" for line in study_links(uri, base))
    print(
        f"MLflow UI on {uri}\nopen {view_url(args.host, args.port)}\n{links}{TOGGLE_HINT}",
        flush=True,
    )
    for name, value in SERVER_ENV.items():
        os.environ.setdefault(name, value)  # MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true opts in
    command = to_command(args.host, args.port, uri, args.access_log)
    os.execv(command[0], command)  # signals reach the server itself, not a wrapper


if __name__ == "__main__":
    main()
