"""max_parallel_payloads: the per-run cap Airflow fixes at parse time, set per deployment."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import PACKAGE_PATH, ROOT, run_dag

PROBE = """
from tests.helpers import load_dag
dag = load_dag("s3_bulk_copy")
print(dag.get_task("copy").max_active_tis_per_dagrun, dag.params.get_param("max_parallel_payloads").value)
"""


def _parsed_cap(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MEDIAFLOW_MAX_PARALLEL_PAYLOADS"}
    if env_value is not None:
        env["MEDIAFLOW_MAX_PARALLEL_PAYLOADS"] = env_value
    env["PYTHONPATH"] = PACKAGE_PATH
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


def test_the_deployment_sets_the_cap_and_the_form_shows_it(airflow_db):
    assert _parsed_cap(None) == "16 16"
    assert _parsed_cap("3") == "3 3"


def test_a_run_asking_for_another_cap_is_told_why_it_does_not_apply(airflow_db, local_stack, make_bucket, capfd):
    s3 = local_stack.boto3_client("s3")
    source, dest = make_bucket("par-src"), make_bucket("par-dst")
    s3.put_object(Bucket=source, Key="a.mov", Body=b"frames")
    result = run_dag(
        "s3_bulk_copy",
        {"source_bucket": source, "destination_bucket": dest, "report_bucket": dest, "max_parallel_payloads": 2},
    )
    assert result.state == "success", result.task_states
    assert s3.get_object(Bucket=dest, Key="a.mov")["Body"].read() == b"frames"
    log = capfd.readouterr().out
    assert "max_parallel_payloads=2 was asked for, but this deployment copies at most 16" in log
    assert "MEDIAFLOW_MAX_PARALLEL_PAYLOADS" in log
