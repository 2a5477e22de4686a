"""The embedded metadata database: PostgreSQL from the wheel, in a folder of ours, stopped for good."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import closing
from pathlib import Path

import pytest

from include.local_stack.database import EmbeddedPostgres
from include.local_stack.processes import Started, family


@pytest.fixture
def folder():
    # outside pytest's base temp: pytest makes that tree private again at each session start,
    # and the server runs as its own user when we are root
    path = Path(tempfile.mkdtemp(prefix="mediaflow-pg-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_start_create_drop_stop(folder):
    import psycopg2

    server = EmbeddedPostgres(folder / "data").start()
    try:
        assert server.running()
        assert EmbeddedPostgres(folder / "data").start().pid == server.pid, "a second start reuses the server"
        with server.fresh_database("mediaflow_db_test") as url:
            assert url.startswith("postgresql+psycopg2://postgres@/mediaflow_db_test?host=")
            with closing(psycopg2.connect(url.replace("+psycopg2", ""))) as conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE t (x int)")
                cur.execute("SELECT current_database(), version()")
                name, version = cur.fetchone()
            assert name == "mediaflow_db_test" and version.startswith("PostgreSQL 18")
        with closing(psycopg2.connect(server.url("postgres").replace("+psycopg2", ""))) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_database WHERE datname = 'mediaflow_db_test'")
            assert cur.fetchone()[0] == 0, "the database is dropped afterwards"
        record = Started.of(server.pid)
    finally:
        server.stop()
    assert not server.running()
    assert family([record]) == [], "no server process (nor a backend) is left"
