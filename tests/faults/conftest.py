"""A deployment started and stopped exactly as `make up` and `make down` do it (the same CLI,
in a subprocess), with its own Airflow home, embedded PostgreSQL and local AWS stack, so the
fault tests can kill its processes without touching anyone else's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, require


@dataclass
class MadeUp:
    """Handle on the deployment: run the CLI, read what it recorded, reach it over REST and HTTP."""

    root: Path
    api_port: int

    @property
    def home(self) -> Path:
        return self.root / "airflow-home"

    def cli(self, action: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`python -m include.local_stack.airflow_local <action>`: what `make up`/`make down` run."""
        import os

        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "MEDIAFLOW_STACK_STATE_DIR": str(self.root / "stack"),
            "MEDIAFLOW_STACK_ENV_FILE": str(self.root / "stack.env"),
            "MEDIAFLOW_API_PORT": str(self.api_port),
        }
        for key in [k for k in env if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AWS_ENDPOINT_URL"))]:
            env.pop(key)  # the test session's own settings are not the deployment's
        result = subprocess.run(
            [sys.executable, "-m", "include.local_stack.airflow_local", action, "--home", str(self.home)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{action} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        return result

    def state(self) -> dict:
        return json.loads((self.home / "mediaflow-up.json").read_text())

    def stack(self):
        from include.local_stack.stack import Stack

        return Stack(**json.loads((self.root / "stack" / "stack.json").read_text()))

    def airflow(self):
        from include.local_stack.airflow_local import AirflowProcesses

        return AirflowProcesses(home=self.home, port=self.state()["port"], extra_env=self.stack().env())

    def recorded(self) -> list:
        """Every process the deployment's state files name: the Airflow components, the
        embedded PostgreSQL server, the local stack's servers."""
        from include.local_stack.database import EmbeddedPostgres
        from include.local_stack.processes import Started

        state = self.state()
        records = [Started.from_json(v) for v in state["components"].values()]
        postgres = EmbeddedPostgres(self.home / "postgres").pid
        stack = [Started.of(pid) for pid in self.stack().pids.values()]
        return [*records, *(r for r in [Started.of(postgres) if postgres else None, *stack] if r is not None)]


@pytest.fixture(scope="session")
def made_up() -> Iterator[MadeUp]:
    from include.local_stack.stack import free_port

    require(shutil.which("ffmpeg") and shutil.which("ffprobe"), "ffmpeg/ffprobe: run `make ffmpeg`")
    # outside pytest's base temp, which pytest makes private again at every session start:
    # the embedded PostgreSQL runs as its own user and must keep reaching its folder
    root = Path(tempfile.mkdtemp(prefix="mediaflow-faults-"))
    deployment = MadeUp(root=root, api_port=free_port())
    try:
        yield deployment
    finally:
        deployment.cli("down")  # a no-op when a test already brought it down
        shutil.rmtree(root, ignore_errors=True)
