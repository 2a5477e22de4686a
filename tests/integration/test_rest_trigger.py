"""The foundation's end-to-end check: a DAG run through the REST API v2 on real Airflow processes."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import refused_before_a_run

pytestmark = pytest.mark.integration


def test_token_required(airflow_cluster):
    resp = requests.get(f"{airflow_cluster.base_url}/api/v2/dags", timeout=30)
    assert resp.status_code == 401


def test_trigger_with_conf_runs_to_success(airflow_cluster):
    dag_id = "mediaflow_healthcheck"
    conf = {"buckets": ["mediaflow-source", "mediaflow-media"], "queue_names": ["mediaflow-transcode-uploads"]}
    run_id = airflow_cluster.trigger(dag_id, conf)
    state = airflow_cluster.wait(dag_id, run_id, timeout=240)
    assert state == "success", airflow_cluster.logs("scheduler")
    run = airflow_cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()
    assert run["conf"]["buckets"] == ["mediaflow-source", "mediaflow-media"]
    tis = airflow_cluster.task_instances(dag_id, run_id)
    assert [(ti["task_id"], ti["state"]) for ti in tis] == [("check", "success")]


def test_invalid_conf_value_is_refused_with_the_param_named(airflow_cluster):
    detail = refused_before_a_run(airflow_cluster, "mediaflow_healthcheck", {"buckets": ["Not_A_Bucket!"]})
    assert "buckets" in detail


def test_unknown_conf_key_is_refused_before_any_run(airflow_cluster):
    detail = refused_before_a_run(airflow_cluster, "mediaflow_healthcheck", {"bucketz": ["mediaflow-source"]})
    assert "'bucketz'" in detail
    assert "buckets" in detail
