"""A real Airflow deployment for the integration tests: api-server, scheduler, dag-processor and
triggerer as subprocesses (LocalExecutor on the embedded PostgreSQL, as `make up` runs them) in a
temporary AIRFLOW_HOME, wired to the local stack. One per session: starting Airflow costs tens
of seconds, and every integration test drives its own DAG runs through the REST API."""

from __future__ import annotations

import pytest

from tests.helpers import airflow_deployment


@pytest.fixture(scope="session")
def airflow_cluster(local_stack, embedded_postgres, tmp_path_factory):
    with airflow_deployment(tmp_path_factory.mktemp("airflow-home"), local_stack, embedded_postgres) as cluster:
        yield cluster


def pytest_collection_modifyitems(session, config, items):
    """Run the distributed tests before every other integration test.

    Each deployment's triggerer watches the same upload queues, so two deployments alive at
    once would take each other's S3 events. The Celery deployment is module-scoped and goes
    first; the LocalExecutor one (session-scoped) starts only after it has stopped.
    """
    items.sort(key=lambda item: 0 if item.get_closest_marker("distributed") else 1)


@pytest.fixture(scope="module")
def celery_cluster(local_stack, tmp_path_factory):
    """api-server, scheduler, dag-processor, triggerer and two Celery workers on PostgreSQL+Redis."""
    import secrets

    from include.local_stack.airflow_local import AirflowProcesses
    from tests.integration.celery_cluster import WORKER_CONCURRENCY, celery_env, fresh_database, require_services

    require_services()
    queue = f"mediaflow-{secrets.token_hex(4)}"
    with fresh_database() as db_url:
        cluster = AirflowProcesses(
            home=tmp_path_factory.mktemp("airflow-celery-home"),
            executor="CeleryExecutor",
            sql_alchemy_conn=db_url,
            extra_env={**local_stack.env(), **celery_env(db_url, queue)},
        )
        cluster.stack = local_stack
        cluster.workers = ["worker-a", "worker-b"]
        try:
            cluster.start()
            for name in cluster.workers:
                cluster.start_celery_worker(name, queue, concurrency=WORKER_CONCURRENCY)
            yield cluster
        except BaseException:
            for name in ("api-server", "scheduler", "triggerer", *cluster.workers):
                print(f"--- {name} log tail ---\n{cluster.logs(name)}")
            raise
        finally:
            cluster.stop()
