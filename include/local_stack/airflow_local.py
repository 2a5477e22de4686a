"""Run real Airflow 3 processes against the local stack: `make up`, `make down`, `make demo`.

The same `AirflowProcesses` class backs the integration tests (LocalExecutor on the embedded
PostgreSQL) and the distributed test (CeleryExecutor on the machine's PostgreSQL and Redis), so
what the demo shows is what the tests prove. Every process is started in its own session and
recorded with its start time; stopping one stops its whole family by PID (see `processes`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from include.local_stack import processes
from include.local_stack import stack as stack_mod
from include.local_stack.database import DATABASE, EmbeddedPostgres
from include.local_stack.processes import Started
from include.local_stack.stack import ROOT, Stack, free_port, wait_http

DEFAULT_HOME = ROOT / ".airflow"
POOLS = {
    # name: (slots, description) -- documented in the README ("Pools and concurrency")
    "s3_copy": (16, "Concurrent S3 copy tasks across all DAG runs"),
    "ffmpeg": (2, "CPU-heavy ffmpeg work (segmenting, probing); size it to worker cores"),
}
ADMIN_USER = "admin"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


@dataclass
class AirflowProcesses:
    """api-server, scheduler, dag-processor and triggerer (plus optional Celery workers).

    The metadata database is `sql_alchemy_conn` when given (the Celery deployment's, a test's
    own database), else the embedded PostgreSQL in `home/postgres`, which `start` starts and
    `stop` stops.
    """

    home: Path
    port: int = 0
    executor: str = "LocalExecutor"
    sql_alchemy_conn: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    started: dict[str, Started] = field(default_factory=dict)
    _token: str | None = None

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.port = self.port or free_port()

    # -- configuration ---------------------------------------------------------------------
    @property
    def postgres(self) -> EmbeddedPostgres | None:
        """The embedded server, when no external database was given."""
        return None if self.sql_alchemy_conn else EmbeddedPostgres(self.home / "postgres")

    def database_url(self) -> str:
        return self.sql_alchemy_conn or self.postgres.url(DATABASE)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _secret(self, name: str) -> str:
        """Per-home random secrets, generated once, kept in the (git-ignored) AIRFLOW_HOME."""
        path = self.home / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def password(self) -> str:
        passwords = self.home / "simple_auth_manager_passwords.json"
        if not passwords.exists():
            passwords.parent.mkdir(parents=True, exist_ok=True)
            passwords.write_text(json.dumps({ADMIN_USER: self._secret("admin_password")}))
            passwords.chmod(0o600)
        return json.loads(passwords.read_text())[ADMIN_USER]

    def env(self) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        _ = self.password  # materialise the passwords file
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            # PostgreSQL takes concurrent writers: the LocalExecutor really runs 8 tasks at once
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|mediaflow)\..*",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__SECRET_KEY": self._secret("api_secret_key"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # after a scheduler dies, its successor resets the tasks it was running within a
            # minute (the dead one's heartbeat is 30 s stale, checked every 20 s), not 5
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "20",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        }
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.database_url()
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env(),
            check=check,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start_database(self) -> None:
        """Start the embedded server (unless an external database was given) and create the
        metadata database in it; both are kept across restarts."""
        if self.postgres is not None:
            self.postgres.start().ensure_database(DATABASE)

    def start(self, components: Iterable[str] = COMPONENTS) -> None:
        self.start_database()
        result = self.airflow("db", "migrate", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        for name, (slots, description) in POOLS.items():
            self.airflow("pools", "set", name, str(slots), description)
        for component in components:
            self.start_component(component)
        self.wait_healthy()

    def wait_healthy(self) -> None:
        wait_http(f"{self.base_url}/api/v2/monitor/health", timeout=120, proc=self.procs.get("api-server"))

    def start_component(
        self, component: str, *extra: str, name: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        name = name or component
        log = self.home / "process-logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "airflow", *component.split(), *extra]
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                args,
                env={**self.env(), **(env or {})},
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )
        self.procs[name] = proc
        self.started[name] = Started.of(proc.pid) or Started(proc.pid, 0.0)
        return proc

    def start_celery_worker(self, name: str, queue: str, concurrency: int = 4) -> subprocess.Popen:
        """A Celery worker with its own identity (task instances record it) and log-server port."""
        return self.start_component(
            "celery worker",
            "--concurrency",
            str(concurrency),
            "--celery-hostname",
            f"{name}@%h",
            "--queues",
            queue,
            name=name,
            env={
                "MEDIAFLOW_WORKER_NAME": name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "mediaflow.common.hostname.worker_hostname",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            },
        )

    def stop(self) -> None:
        """Stop every component with everything it forked (task processes included), then the
        embedded database server if this deployment uses one."""
        processes.stop(self.started.values(), grace=15)
        for proc in self.procs.values():
            proc.poll()  # reap our own children
        self.procs.clear()
        self.started.clear()
        if self.postgres is not None:
            self.postgres.stop()

    def logs(self, name: str, tail: int = 4000) -> str:
        path = self.home / "process-logs" / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    # -- REST API v2 -----------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            resp = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": ADMIN_USER, "password": self.password},
                timeout=30,
            )
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed `dag_id` (and report import errors if any)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.api("GET", f"/api/v2/dags/{dag_id}")
            if resp.status_code == 200:
                return
            time.sleep(1)
        errors = self.api("GET", "/api/v2/importErrors").json()
        raise TimeoutError(f"DAG {dag_id} not parsed within {timeout:.0f}s; import errors: {errors}")

    def unpause(self, dag_id: str) -> None:
        self.wait_for_dag(dag_id)
        resp = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        resp.raise_for_status()

    def post_run(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> requests.Response:
        """POST /api/v2/dags/{dag_id}/dagRuns as the UI and REST callers do; the answer as it is."""
        body: dict[str, Any] = {"conf": conf or {}, "logical_date": None}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> str:
        self.unpause(dag_id)
        resp = self.post_run(dag_id, conf, run_id)
        if resp.status_code >= 300:
            raise RuntimeError(f"trigger {dag_id} refused ({resp.status_code}): {resp.text}")
        return resp.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        resp.raise_for_status()
        return resp.json()["state"]

    def wait(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        state = "queued"
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} still {state} after {timeout:.0f}s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        resp.raise_for_status()
        return resp.json()["task_instances"]

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")
        resp.raise_for_status()
        return resp.json()["asset_events"]

    def event_runs(self, dag_id: str, key: str) -> list[dict]:
        """Asset-triggered runs of `dag_id` whose triggering event names S3 object `key`.

        Matching on the key (URL-encoded, as S3 sends it) rather than on "the newest run" keeps
        concurrent uploads, and the fan-out of one upload to several DAGs, apart.
        """
        from urllib.parse import quote_plus

        needles = (quote_plus(key), key)
        matched = []
        for run in self.dag_runs(dag_id):
            # Airflow 3.3.2 answers 500 for the events of a run that has not started yet (its
            # response model needs the created run's start_date), so look again once it has
            if run["run_type"] != "asset_triggered" or run.get("start_date") is None:
                continue
            events = json.dumps(self.upstream_asset_events(dag_id, run["dag_run_id"]))
            if any(n in events for n in needles):
                matched.append(run)
        return matched

    def wait_for_event_run(self, dag_id: str, key: str, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.event_runs(dag_id, key)
            if runs:
                return runs[0]
            time.sleep(2)
        raise TimeoutError(
            f"no asset-triggered run of {dag_id} for {key!r} within {timeout:.0f}s\n"
            f"--- triggerer ---\n{self.logs('triggerer')}\n--- scheduler ---\n{self.logs('scheduler')}"
        )

    def dag_runs(self, dag_id: str) -> list[dict]:
        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        resp.raise_for_status()
        return resp.json()["dag_runs"]

    def set_variable(self, key: str, value: str, description: str | None = None) -> None:
        body = {"key": key, "value": value, "description": description}
        resp = self.api("POST", "/api/v2/variables", json=body)
        if resp.status_code == 409:  # already there: replace its value
            resp = self.api("PATCH", f"/api/v2/variables/{key}", json=body)
        resp.raise_for_status()


# -- make up / down / demo ----------------------------------------------------------------------
# The state file records each component's PID and start time (see `processes`).
def _state_path(home: Path) -> Path:
    return home / "mediaflow-up.json"


def _read_state(home: Path) -> dict[str, Any] | None:
    path = _state_path(home)
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    components = state.get("components") or state.get("pids") or {}  # "pids": older state files
    return {
        "port": int(state["port"]),
        "aws_endpoint": state.get("aws_endpoint"),
        "components": {name: Started.from_json(v) for name, v in components.items()},
    }


def _write_state(home: Path, state: dict[str, Any]) -> None:
    data = {
        "port": state["port"],
        "aws_endpoint": state["aws_endpoint"],
        "components": {name: r.to_json() for name, r in state["components"].items()},
    }
    _state_path(home).write_text(json.dumps(data, indent=2))


def is_up(home: Path = DEFAULT_HOME) -> bool:
    state = _read_state(home)
    return (
        state is not None
        and all(r.alive() for r in state["components"].values())
        and EmbeddedPostgres(home / "postgres").running()
    )


def up(home: Path = DEFAULT_HOME) -> tuple[Stack, AirflowProcesses]:
    """Start the local stack and Airflow, or return the ones `make up` already started, first
    restarting whichever of them died (and saying so)."""
    stack = stack_mod.up()
    state = _read_state(home)
    if state is not None and state["aws_endpoint"] not in (None, stack.aws_endpoint):
        print("the local AWS stack was restarted on new ports: restarting Airflow to use them")
        down(home, stack_too=False)
        state = None
    if state is not None:
        af = AirflowProcesses(home=home, port=state["port"], extra_env=stack.env())
        _restart_dead(af, state)
        _write_state(home, state)
        return stack, af
    af = AirflowProcesses(home=home, port=int(os.environ.get("MEDIAFLOW_API_PORT", "0")) or 8080, extra_env=stack.env())
    if not _port_free(af.port):
        af.port = free_port()
    try:
        af.start()
    except BaseException:
        af.stop()
        raise
    _write_state(home, {"port": af.port, "aws_endpoint": stack.aws_endpoint, "components": af.started})
    if stack.frameio_url:  # uploads to the stand-in are backed up by themselves, as with Frame.io's webhook
        from include.demo.frameio_upload import subscribe

        subscribe(stack, af.base_url)
    return stack, af


def _restart_dead(af: AirflowProcesses, state: dict[str, Any]) -> None:
    """Start again the database and every component that is not running, saying which."""
    if not af.postgres.running():
        print(f"the metadata database (embedded PostgreSQL in {af.postgres.pgdata}) was not running: starting it")
        af.start_database()
    dead = [name for name in COMPONENTS if not (state["components"].get(name) or Started(0, 0.0)).alive()]
    for name in dead:
        record = state["components"].get(name)
        if record is not None:
            print(f"{name} (pid {record.pid}) was not running: restarting it")
            _stop_leftovers(record)
        else:
            print(f"{name} was not running: starting it")
        af.start_component(name)
        state["components"][name] = af.started[name]
    if dead:
        af.wait_healthy()


def _stop_leftovers(record: Started) -> None:
    """Stop everything a dead component left in its session before its successor starts.

    Its forked children (executor workers, the log server) inherit its database connections: a
    transaction it had open stays open, and its row locks block the successor (a restarted
    scheduler waited on one for good while an idle orphaned worker held the socket). The log
    server also holds the port the successor needs. A task the dead scheduler was running is
    reset by the new scheduler's orphan check and runs again as its next try."""
    stopped = processes.stop([record], grace=10)
    if stopped:
        print(f"  stopped {len(stopped)} process(es) it left behind")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def down(home: Path = DEFAULT_HOME, stack_too: bool = True) -> list[int]:
    """Stop every process `make up` started with everything they forked, including task
    processes orphaned by a component that died; then the database server and the stack.
    Returns the PIDs that were still running."""
    state = _read_state(home)
    stopped: list[int] = []
    if state is not None:
        stopped = processes.stop(state["components"].values(), grace=15)
        _state_path(home).unlink()
    postgres = EmbeddedPostgres(home / "postgres")
    if postgres.running():
        stopped.append(postgres.pid)
        postgres.stop()
    if stack_too:
        stack_mod.stop_recorded()
    return stopped


def demo_modules() -> list[Any]:
    import include.demo as demo_pkg

    modules = [importlib.import_module(f"include.demo.{m.name}") for m in pkgutil.iter_modules(demo_pkg.__path__)]
    return sorted(modules, key=lambda m: getattr(m, "ORDER", 100))


def demo(home: Path = DEFAULT_HOME) -> int:
    """Trigger every demo DAG through the REST API and summarise; stop what we started."""
    already_up = is_up(home) and stack_mod.load_state() is not None
    try:
        return _demo(home)
    finally:
        if not already_up:
            down(home)
            print("stopped the Airflow processes and the local stack this demo started (`make up` keeps them)")


def _demo(home: Path) -> int:
    stack, af = up(home)
    print(f"Airflow UI: {af.base_url}  (user {ADMIN_USER}, password in {home}/simple_auth_manager_passwords.json)")
    results: list[tuple[str, str, list[str]]] = []
    failures = 0
    for module in demo_modules():
        if hasattr(module, "run"):  # a demo that starts its run another way than the REST API
            dag_id = module.DAG_ID
            print(f"\n==> {module.HEADLINE}")
            try:
                state, lines = module.run(stack, af)
            except (RuntimeError, TimeoutError) as exc:
                state, lines = "error", [str(exc)]
            failures += state != "success"
            results.append((dag_id, state, lines))
            print(f"    {dag_id}: {state}")
            continue
        dag_id, conf = module.prepare(stack)
        print(f"\n==> triggering {dag_id} through POST /api/v2/dags/{dag_id}/dagRuns")
        try:
            run_id = af.trigger(dag_id, conf)
            state = af.wait(dag_id, run_id, timeout=getattr(module, "TIMEOUT", 600))
        except (RuntimeError, TimeoutError) as exc:
            state, run_id = "error", ""
            print(f"    {exc}")
        lines = module.summarize(stack, conf, state)
        failures += state != "success"
        results.append((dag_id, state, lines))
        print(f"    {dag_id}: {state}")
    print(
        "\n" + "=" * 78 + "\nmediaflow demo summary (local stack: moto server, local MediaConvert, Frame.io stand-in)\n"
    )
    for dag_id, state, lines in results:
        print(f"{'OK ' if state == 'success' else 'FAIL'} {dag_id} [{state}]")
        for line in lines:
            print(f"     {line}")
    return 1 if failures else 0


# -- sample data for `make up` ------------------------------------------------------------------
#: the Variable the scheduled Frame.io backup reads its targets from
FRAMEIO_TARGETS_VARIABLE = "frameio_backup_targets"


def seed_samples(stack: Stack, af: AirflowProcesses) -> dict[str, dict]:
    """Upload the sample data `make demo` uses and return, per DAG, a conf that works on it.

    The local deployment's form defaults (`samples.conf_defaults`) point at the same data, so each
    trigger form runs as it opens, except `frameio_backup`, whose asset id (the Frame.io
    stand-in's demo project, a new id on every start) is in the returned conf. The scheduled
    backup gets that project through its Variable."""
    confs = {}
    for module in demo_modules():
        if not hasattr(module, "prepare"):  # a demo without a conf (it starts its run another way)
            continue
        dag_id, conf = module.prepare(stack)
        confs[dag_id] = conf
    project = confs["frameio_backup"]
    targets = [
        {
            "asset_id": project["asset_id"],
            "asset_type": "project",
            "account_id": project.get("account_id"),
            "destination_bucket": project["destination_bucket"],
            "destination_prefix": "frameio-scheduled",
        }
    ]
    af.set_variable(FRAMEIO_TARGETS_VARIABLE, json.dumps(targets), "Frame.io stand-in demo project (make up)")
    confs["frameio_backup_scheduled"] = {}  # the nightly default: targets from the Variable
    return confs


def print_samples(confs: dict[str, dict]) -> None:
    """What `make up` says about the samples: a conf per DAG, and the ids a form needs."""
    project = confs.get("frameio_backup", {})
    print("\nsample data is loaded; each DAG's trigger form opens with defaults that run on it.")
    print(f"Frame.io stand-in demo project id: {project.get('asset_id')} (frameio_backup: paste it as the asset id")
    print("  and choose asset type 'project'; frameio_backup_scheduled reads it from the Variable")
    print(f"  {FRAMEIO_TARGETS_VARIABLE})")
    print('a conf that works on each DAG (REST: POST /api/v2/dags/<dag id>/dagRuns with {"conf": ...}):')
    for dag_id, conf in sorted(confs.items()):
        print(f"  {dag_id}: {json.dumps(conf)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Airflow and the local AWS stack for mediaflow.")
    parser.add_argument("action", choices=["up", "down", "demo"])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("AIRFLOW_HOME", DEFAULT_HOME)))
    args = parser.parse_args(argv)
    if args.action == "up":
        _stack, af = up(args.home)
        print(f"Airflow UI:  {af.base_url}")
        print(f"login:       {ADMIN_USER} / {af.password}")
        print("local stack: `source .local_stack.env` to use it from a shell; `make down` stops everything")
        print_samples(seed_samples(_stack, af))
        return 0
    if args.action == "down":
        stopped = down(args.home)
        print(
            f"stopped Airflow and its database ({len(stopped)} process(es), task processes included) and the local stack"
        )
        return 0
    return demo(args.home)


if __name__ == "__main__":
    sys.exit(main())
