"""Conf is checked as a whole before a run exists, on a real API server: REST dagRuns and
backfills, unauthenticated and oversized requests, any DAG id in the path. (The UI form is the
browser suite's, tests/browser.) Each refusal is checked for its status, its words, and that no
run (or backfill) was created.

The deployment has the local stack's form defaults (buckets of the sample data), so a test that
needs a key empty sends it as null."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers import refused_before_a_run

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
HEALTHCHECK = "mediaflow_healthcheck"


def _trigger_url(cluster, dag_id: str) -> str:
    return f"{cluster.base_url}/api/v2/dags/{dag_id}/dagRuns"


def test_unauthenticated_trigger_gets_401_not_the_contract(airflow_cluster):
    airflow_cluster.unpause(HEALTHCHECK)
    before = len(airflow_cluster.dag_runs(HEALTHCHECK))
    resp = requests.post(
        _trigger_url(airflow_cluster, HEALTHCHECK), json={"conf": {"bogus": 1}, "logical_date": None}, timeout=30
    )
    assert resp.status_code == 401, resp.text
    assert "bogus" not in resp.text and "accepted keys" not in resp.text
    forged = requests.post(
        _trigger_url(airflow_cluster, HEALTHCHECK),
        json={"conf": {"bogus": 1}, "logical_date": None},
        headers={"Authorization": "Bearer not-a-token"},
        timeout=30,
    )
    assert forged.status_code in (401, 403), forged.text
    assert "accepted keys" not in forged.text
    assert len(airflow_cluster.dag_runs(HEALTHCHECK)) == before


def test_oversized_body_gets_413_and_no_run(airflow_cluster):
    airflow_cluster.unpause(HEALTHCHECK)
    before = len(airflow_cluster.dag_runs(HEALTHCHECK))
    big = json.dumps({"conf": {"table_name": "x" * (5 * MiB)}, "logical_date": None})
    resp = airflow_cluster.api(
        "POST", f"/api/v2/dags/{HEALTHCHECK}/dagRuns", data=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413, resp.text[:500]
    assert "larger than 1048576 bytes" in resp.json()["detail"]
    # without a token the size does not matter: nobody gets the server to read it
    anonymous = requests.post(
        _trigger_url(airflow_cluster, HEALTHCHECK), data=big, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert anonymous.status_code == 401
    assert len(airflow_cluster.dag_runs(HEALTHCHECK)) == before


@pytest.mark.parametrize("dag_id", ["fields", "no_such_dag"])
def test_any_dag_id_in_the_path_gets_an_answer_not_a_500(airflow_cluster, dag_id):
    resp = airflow_cluster.post_run(dag_id, {"bogus": 1})
    assert resp.status_code == 404, resp.text
    assert dag_id in resp.json()["detail"]
    deep = airflow_cluster.api(
        "POST",
        f"/api/v2/dags/{dag_id}/dagRuns",
        data=b"[" * 100_000 + b"]" * 100_000,
        headers={"Content-Type": "application/json"},
    )
    assert deep.status_code == 400
    assert "not valid JSON" in deep.json()["detail"]


@pytest.mark.parametrize(
    ("dag_id", "conf", "expected"),
    [
        ("s3_bulk_copy", {"source_bucket": None, "manifest_uri": None}, "nothing to copy: set source_bucket"),
        ("s3_bulk_copy", {"destination_bucket": None}, "no destination: set destination_bucket or routes"),
        ("s3_bulk_copy", {"min_size": "100"}, "min_size must be a whole number, not '100'."),
        ("s3_bulk_copy", {"acl": "everyone"}, "acl must be one of"),
        ("video_segment_index", {"bucket": None}, "bucket is empty"),
        ("video_segment_index", {"prefix": "uploads/"}, "are both set"),
        ("video_segment_index", {"output_key_prefix": "{video_name:>2000}"}, "formats a field ({video_name:>2000})"),
        ("mediaconvert_transcode", {"key": None}, "no input: key is empty"),
        ("frameio_backup", {}, "asset_id is required"),
        ("frameio_backup_scheduled", {"targets": [{"asset_id": "p"}]}, "targets[0] is missing 'destination_bucket'"),
    ],
)
def test_conf_that_cannot_work_is_refused_with_one_plain_sentence(airflow_cluster, dag_id, conf, expected):
    detail = refused_before_a_run(airflow_cluster, dag_id, conf)
    assert detail.startswith(f"{dag_id}: ")
    assert expected in detail
    assert "schema[" not in detail and "^[a-z0-9]" not in detail


def test_a_backfill_conf_is_checked_too(airflow_cluster):
    dag_id = "frameio_backup_scheduled"
    airflow_cluster.unpause(dag_id)
    body = {
        "dag_id": dag_id,
        "from_date": "2024-01-01T00:00:00Z",
        "to_date": "2024-01-03T00:00:00Z",
        "dag_run_conf": {"targetz": []},
    }
    for path in ("/api/v2/backfills", "/api/v2/backfills/dry_run"):
        resp = airflow_cluster.api("POST", path, json=body)
        assert resp.status_code == 400, resp.text
        assert "unknown conf key(s) 'targetz'" in resp.json()["detail"]
    # the rules across keys too, for any DAG named in the body
    video = {**body, "dag_id": "video_segment_index", "dag_run_conf": {"bucket": None}}
    resp = airflow_cluster.api("POST", "/api/v2/backfills", json=video)
    assert resp.status_code == 400, resp.text
    assert resp.json()["detail"].startswith("video_segment_index: bucket is empty")
    for name in (dag_id, "video_segment_index"):
        assert airflow_cluster.api("GET", "/api/v2/backfills", params={"dag_id": name}).json()["backfills"] == []
        assert [r for r in airflow_cluster.dag_runs(name) if r["run_type"] == "backfill"] == []
    # a conf that can work goes on to Airflow (a dry run creates nothing)
    good = airflow_cluster.api("POST", "/api/v2/backfills/dry_run", json={**body, "dag_run_conf": {"targets": None}})
    assert good.status_code == 200, good.text


def test_literal_looking_strings_survive_a_real_deployment(airflow_cluster, s3, make_bucket):
    """The worker parses the DAG file and runs mapped copies: prefixes "[1]" and "2024" arrive as text."""
    src, dst = make_bucket("lit-src"), make_bucket("lit-dst")
    s3.put_object(Bucket=src, Key="[1]/clip.mov", Body=b"clip")
    conf = {"source_bucket": src, "source_prefix": "[1]", "destination_bucket": dst, "destination_prefix": "2024"}
    run_id = airflow_cluster.trigger("s3_bulk_copy", conf)
    assert airflow_cluster.wait("s3_bulk_copy", run_id, timeout=300) == "success"
    copied = [o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"] if not o["Key"].startswith("mediaflow-")]
    assert copied == ["2024/clip.mov"]
