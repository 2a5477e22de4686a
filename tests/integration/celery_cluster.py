"""A CeleryExecutor deployment on the machine's PostgreSQL and Redis, for the `distributed` tests.

A fresh metadata database is created for the session and dropped after it; the Celery queue
name is unique to the session so a concurrent run on the same Redis cannot steal its tasks.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers import require

PG_HOST, PG_PORT, REDIS_PORT = "127.0.0.1", 5432, 6379
WORKER_CONCURRENCY = 2
COPY_CAP = 3
START_HINT = {
    "postgres": "start PostgreSQL on 127.0.0.1:5432 with trust auth "
    "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)",
    "redis": "start Redis on 127.0.0.1:6379 (redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '')",
}


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_services() -> None:
    require(_port_open(PG_PORT), START_HINT["postgres"])
    require(_port_open(REDIS_PORT), START_HINT["redis"])


@contextmanager
def fresh_database() -> Iterator[str]:
    """CREATE DATABASE for this session, DROP it afterwards; yields the SQLAlchemy URL."""
    import psycopg2

    name = f"mediaflow_dist_{secrets.token_hex(4)}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def celery_env(db_url: str, queue: str) -> dict[str, str]:
    # name the driver: SQLAlchemy 2.1 defaults postgresql:// to psycopg 3, which is not installed
    backend = "db+" + db_url
    return {
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{PG_HOST}:{REDIS_PORT}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": backend,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "AIRFLOW__CORE__PARALLELISM": "16",
        # the per-run copy cap (max_active_tis_per_dagrun) is below the 2 x 2 worker slots, so
        # it is the binding limit the test observes, and no single worker can take every task
        "MEDIAFLOW_MAX_PARALLEL_PAYLOADS": str(COPY_CAP),
    }
