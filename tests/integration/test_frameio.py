"""Frame.io backup on real Airflow processes: the Action receiver and the upload webhook inside
the running API server (signature vectors, one run per interaction, one backup per uploaded
file), and the demo project backed up end to end."""

from __future__ import annotations

import json
import time

import pytest
import requests
import xxhash

from include.demo import frameio_backup as demo
from include.demo import frameio_upload as upload_demo
from mediaflow.frameio.signature import run_id_for, sign

pytestmark = pytest.mark.integration
DAG_ID = "frameio_backup"


def post_action(cluster, body: bytes, *, secret: str, ts: int | None = None, signed: bytes | None = None):
    ts = int(time.time()) if ts is None else ts
    headers = {
        "X-Frameio-Request-Timestamp": str(ts),
        "X-Frameio-Signature": sign(secret, ts, body if signed is None else signed),
        "Content-Type": "application/json",
    }
    # no Airflow token: Frame.io cannot send one, the signature is the authentication
    return requests.post(f"{cluster.base_url}/frameio/custom-action", data=body, headers=headers, timeout=10)


def action_body(interaction_id: str, file_id: str) -> bytes:
    return json.dumps(
        {
            "type": "mediaflow.backup",
            "interaction_id": interaction_id,
            "action_id": "integration",
            "resource": {"id": file_id, "type": "file"},
            "account_id": "standin-account",
            "workspace": {"id": "ws"},
            "user": {"id": "u"},
        }
    ).encode()


def run_ids(cluster) -> set[str]:
    return {r["dag_run_id"] for r in cluster.dag_runs(DAG_ID)}


def test_custom_action_through_the_api_server(airflow_cluster):
    stack = airflow_cluster.stack
    secret = stack.custom_action_secret
    airflow_cluster.unpause(DAG_ID)
    seeded = requests.post(
        f"{stack.frameio_url}/_control/seed",
        json={"name": "integration", "tree": [{"name": "clicked.mov", "size": 4096, "seed": 11}]},
        timeout=10,
    ).json()
    file_id = seeded["assets"][0]["id"]
    now = int(time.time())

    bad = action_body("it-bad", file_id)
    altered = bad.replace(b'"integration"', b'"integratioN"')
    for resp in (
        post_action(airflow_cluster, bad, secret="wrong-secret"),
        post_action(airflow_cluster, bad, secret=secret, ts=now - 400),
        post_action(airflow_cluster, bad, secret=secret, ts=now + 400),
        post_action(airflow_cluster, altered, secret=secret, signed=bad),
    ):
        assert resp.status_code == 401, resp.text
    assert run_id_for("it-bad") not in run_ids(airflow_cluster)

    good = action_body("it-good-1", file_id)
    answers = [post_action(airflow_cluster, good, secret=secret) for _ in range(3)]  # Frame.io retries
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json()["title"] == "Backup queued"
    assert {a.json()["title"] for a in answers[1:]} == {"Backup already queued"}
    run_id = run_id_for("it-good-1")
    assert [r for r in run_ids(airflow_cluster) if r.startswith(run_id)] == [run_id]

    assert airflow_cluster.wait(DAG_ID, run_id, timeout=300) == "success"
    s3 = stack.boto3_client("s3")
    head = s3.head_object(Bucket="mediaflow-backup", Key="clicked.mov")
    assert head["ContentLength"] == 4096
    assert head["Metadata"]["frameio-asset-id"] == file_id
    body = s3.get_object(Bucket="mediaflow-backup", Key="clicked.mov")["Body"].read()
    assert xxhash.xxh64(body).hexdigest() == upload_demo.frameio_xxh64(stack, file_id)  # verified bytes


def asset_events_for(cluster, file_id: str) -> list[dict]:
    """The frameio_uploads asset events that name `file_id`, through the REST API."""
    assets = cluster.api("GET", "/api/v2/assets", params={"name_pattern": "frameio_uploads"}).json()["assets"]
    (asset,) = [a for a in assets if a["name"] == "frameio_uploads"]
    events = cluster.api("GET", "/api/v2/assets/events", params={"asset_id": asset["id"], "limit": 1000}).json()
    return [e for e in events["asset_events"] if e["extra"].get("target", {}).get("asset_id") == file_id]


def test_uploads_are_backed_up_once_each_and_replays_add_nothing(airflow_cluster):
    stack = airflow_cluster.stack
    state, lines = upload_demo.run(stack, airflow_cluster)  # what `make demo` shows
    assert state == "success", lines
    assert sum("checksum verified" in line for line in lines) == 3, lines
    deliveries = requests.get(f"{stack.frameio_url}/_control/deliveries", timeout=10).json()
    uploaded = {d["file_id"] for d in deliveries}
    assert len(uploaded) >= 3
    for file_id in uploaded:
        # file.upload.completed and file.ready were both delivered (200), one event was recorded
        assert {d["type"] for d in deliveries if d["file_id"] == file_id} == set(upload_demo.EVENTS)
        assert all(d["statuses"] == [200] for d in deliveries if d["file_id"] == file_id)
        assert len(asset_events_for(airflow_cluster, file_id)) == 1
        runs = airflow_cluster.event_runs(DAG_ID, file_id)
        assert len(runs) == 1 and runs[0]["state"] == "success"

    first = next(i for i, d in enumerate(deliveries) if d["type"] == "file.upload.completed")
    replayed_file = deliveries[first]["file_id"]
    for signature, status in (("good", 200), ("bad", 401), ("stale", 401)):
        again = requests.post(
            f"{stack.frameio_url}/_control/redeliver", json={"delivery": first, "signature": signature}, timeout=30
        ).json()
        assert again["statuses"] == [status]
    assert len(asset_events_for(airflow_cluster, replayed_file)) == 1  # no event, so no run, from any of them


def test_demo_backs_up_the_standin_project(airflow_cluster):
    dag_id, conf = demo.prepare(airflow_cluster.stack)
    run_id = airflow_cluster.trigger(dag_id, conf)
    state = airflow_cluster.wait(dag_id, run_id, timeout=300)
    lines = demo.summarize(airflow_cluster.stack, conf, state)
    assert state == "success", lines
    text = "\n".join(lines)
    assert "Dailies/Day 1/A001_C001.mov" in text
    assert "Edit" not in text or "edit_v2.mp4" in text
    assert "still_uploading" not in text and "watermarked" not in text.split("left out")[0]
