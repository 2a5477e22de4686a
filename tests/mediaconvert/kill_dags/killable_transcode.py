"""A one-task DAG that transcodes and waits in the worker (not deferred), for a test that
SIGTERMs the process in the middle of the wait, as Airflow's supervisor does when a user marks
a running task failed. Run in its own AIRFLOW_HOME with this folder as the DAGs folder:

    python tests/mediaconvert/kill_dags/killable_transcode.py '{"bucket": ..., "key": ..., "destination": ...}'

prints `RESULT {"state", "try_number"}` of the task once the run is over.
"""

from __future__ import annotations

import json
import sys

from airflow.sdk import DAG

from mediaflow.mediaconvert.operators import MediaConvertCreateJobOperator

DAG_ID = "mediaconvert_killable_transcode"

with DAG(dag_id=DAG_ID, schedule=None, catchup=False, params={"bucket": None, "key": None, "destination": None}) as dag:
    MediaConvertCreateJobOperator(
        task_id="transcode",
        bucket="{{ params.bucket }}",
        key="{{ params.key }}",
        destination="{{ params.destination }}",
        deferrable=False,
        waiter_delay=1,
        retries=0,
    )

if __name__ == "__main__":
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    run = dag.test(run_conf=json.loads(sys.argv[1]))
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=run.run_id, task_id="transcode").one()
        print("RESULT " + json.dumps({"state": str(ti.state), "try_number": ti.try_number}), flush=True)
