"""A real Airflow deployment for the integration tests: api-server, scheduler, dag-processor and
triggerer as subprocesses (LocalExecutor, SQLite) in a temporary AIRFLOW_HOME, wired to the
local stack. One per session: starting Airflow costs tens of seconds, and every integration
test drives its own DAG runs through the REST API."""

from __future__ import annotations

import pytest

from tests.helpers import require


@pytest.fixture(scope="session")
def airflow_cluster(local_stack, tmp_path_factory):
    import shutil

    from include.local_stack.airflow_local import AirflowProcesses

    require(shutil.which("ffmpeg"), "ffmpeg: run `make ffmpeg`")
    cluster = AirflowProcesses(home=tmp_path_factory.mktemp("airflow-home"), extra_env=local_stack.env())
    cluster.stack = local_stack
    try:
        cluster.start()
        yield cluster
    except BaseException:
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            print(f"--- {name} log tail ---\n{cluster.logs(name)}")
        raise
    finally:
        cluster.stop()
