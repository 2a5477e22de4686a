"""s3_bulk_copy on real Airflow processes: the demo's run through the REST API, and bad conf
refused by the API server before a run exists."""

from __future__ import annotations

import re
import secrets

import pytest

from include.demo import s3_bulk_copy as demo
from tests.helpers import refused_before_a_run

pytestmark = pytest.mark.integration


def test_rest_triggered_copy_runs_mapped_payloads_to_success(airflow_cluster):
    stack = airflow_cluster.stack
    dag_id, conf = demo.prepare(stack)
    # a destination of its own: other tests (the browser's form run) copy the same samples
    conf = {**conf, "destination_prefix": f"it-{secrets.token_hex(4)}/"}
    run_id = airflow_cluster.trigger(dag_id, conf)
    state = airflow_cluster.wait(dag_id, run_id, timeout=420)
    assert state == "success", airflow_cluster.logs("scheduler")
    tis = airflow_cluster.task_instances(dag_id, run_id)
    copies = [ti for ti in tis if ti["task_id"] == "copy"]
    assert len(copies) >= 2  # the 12 MiB master is spread over payloads of 8 MiB
    # the API (and so the grid) labels each payload with its objects and size
    assert all(re.fullmatch(r"payload \d+: \d+ objects, \d+\.\d\d GiB", ti["rendered_map_index"]) for ti in copies)
    assert {ti["state"] for ti in tis} == {"success"}

    s3 = stack.boto3_client("s3")
    tree = demo._tree()
    for key, body in tree.items():
        dest = conf["destination_prefix"] + key.removeprefix(demo.SOURCE_PREFIX)
        got = s3.get_object(Bucket=conf["destination_bucket"], Key=dest)
        assert got["Body"].read() == body, dest
        assert got["Metadata"] == {"demo": "mediaflow"}
    assert s3.list_multipart_uploads(Bucket=conf["destination_bucket"]).get("Uploads", []) == []
    lines = demo.summarize(stack, conf, state)
    assert lines[0].startswith("run success: ")
    assert f"{len(tree)} objects" in lines[1] or "skipped" in lines[0]


def test_bad_values_are_refused_before_a_run(airflow_cluster):
    for conf, named in (
        ({"source_bucket": "Not_A_Bucket", "destination_bucket": "mediaflow-destination"}, "source_bucket"),
        (
            {"source_bucket": "mediaflow-source", "destination_bucket": "mediaflow-destination", "min_size": -5},
            "min_size",
        ),
        (
            {"source_bucket": "mediaflow-source", "destination_bucket": "mediaflow-destination", "report_scope": "x"},
            "report_scope",
        ),
        ({"source_bucket": "mediaflow-source", "destination_bukcet": "mediaflow-destination"}, "destination_bukcet"),
    ):
        assert named in refused_before_a_run(airflow_cluster, "s3_bulk_copy", conf)
