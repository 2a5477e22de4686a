"""The Custom Action receiver through the real FastAPI app, the real connection lookup and the
real DAG-run creation in the metadata database."""

from __future__ import annotations

import json
import time

import pytest

from mediaflow.frameio.signature import run_id_for, sign
from tests.helpers import ROOT

SECRET = "test-signing-secret-0123456789"


@pytest.fixture(scope="module")
def synced_dag(airflow_db):
    """frameio_backup serialized into the metadata DB, as the dag-processor would leave it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(ROOT / "dags" / "frameio_backup.py"))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    return bag.dags["frameio_backup"]


@pytest.fixture
def client(synced_dag, monkeypatch):
    from fastapi.testclient import TestClient

    from mediaflow.frameio.webhook import app

    conn = {
        "conn_type": "http",
        "host": "https://api.frame.io",
        "extra": {"custom_action_secret": SECRET, "destination_bucket": "mediaflow-backup"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps(conn))
    return TestClient(app)


def runs_for(interaction_id: str) -> list:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(DagRun).filter_by(dag_id="frameio_backup", run_id=run_id_for(interaction_id)).all()
        return [(r.run_id, r.conf) for r in rows]


def payload(interaction_id: str, v4: bool = True, data: dict | None = None) -> bytes:
    body: dict = {
        "type": "mediaflow.backup",
        "interaction_id": interaction_id,
        "action_id": "act-1",
        "resource": {"id": "file-123", "type": "file" if v4 else "asset"},
        "user": {"id": "user-1"},
        "project": {"id": "project-1"},
    }
    if v4:
        body.update(account_id="acct-9", workspace={"id": "ws-1"})
    else:
        body["team"] = {"id": "team-1"}
    if data is not None:
        body["data"] = data
    return json.dumps(body).encode()


def post(client, body: bytes, *, secret: str = SECRET, ts: int | None = None, signed_body: bytes | None = None):
    ts = int(time.time()) if ts is None else ts
    headers = {
        "X-Frameio-Request-Timestamp": str(ts),
        "X-Frameio-Signature": sign(secret, ts, signed_body if signed_body is not None else body),
        "Content-Type": "application/json",
    }
    return client.post("/custom-action", content=body, headers=headers)


def test_valid_signature_queues_one_run_and_retries_do_not_add_another(client):
    body = payload("ia-valid-1")
    first = post(client, body)
    assert first.status_code == 200
    assert first.json()["title"] == "Backup queued"
    assert "s3://mediaflow-backup" in first.json()["description"]
    for _ in range(3):  # Frame.io retries the same interaction
        again = post(client, body)
        assert again.status_code == 200
        assert again.json()["title"] == "Backup already queued"
    runs = runs_for("ia-valid-1")
    assert len(runs) == 1
    conf = runs[0][1]
    assert conf["asset_id"] == "file-123"
    assert conf["asset_type"] == "file"
    assert conf["api_version"] == "v4"
    assert conf["account_id"] == "acct-9"
    assert conf["interaction_id"] == "ia-valid-1"


def test_v2_payload_queues_a_v2_backup(client):
    assert post(client, payload("ia-v2-1", v4=False)).status_code == 200
    conf = runs_for("ia-v2-1")[0][1]
    assert conf["api_version"] == "v2"
    assert conf["asset_type"] is None
    assert conf["account_id"] is None


@pytest.mark.parametrize(
    "case",
    ["wrong_secret", "stale", "future", "body_altered", "missing_signature", "missing_timestamp"],
)
def test_bad_signatures_get_401_and_no_run(client, case):
    interaction = f"ia-bad-{case}"
    body = payload(interaction)
    now = int(time.time())
    if case == "wrong_secret":
        resp = post(client, body, secret="not-the-secret")
    elif case == "stale":
        resp = post(client, body, ts=now - 301)
    elif case == "future":
        resp = post(client, body, ts=now + 301)
    elif case == "body_altered":
        altered = bytearray(body)
        altered[-2] ^= 0x01  # one byte changed after signing
        resp = post(client, bytes(altered), signed_body=body)
    elif case == "missing_signature":
        resp = client.post("/custom-action", content=body, headers={"X-Frameio-Request-Timestamp": str(now)})
    else:
        resp = client.post("/custom-action", content=body, headers={"X-Frameio-Signature": sign(SECRET, now, body)})
    assert resp.status_code == 401
    assert runs_for(interaction) == []


def test_timestamp_inside_the_window_is_accepted(client):
    assert post(client, payload("ia-skew-ok"), ts=int(time.time()) - 240).status_code == 200
    assert len(runs_for("ia-skew-ok")) == 1


def test_form_is_offered_then_its_answers_are_used(client, monkeypatch):
    conn = {
        "conn_type": "http",
        "extra": {
            "custom_action_secret": SECRET,
            "destination_bucket": "mediaflow-backup",
            "destination_prefix": "frameio",
            "custom_action_form": True,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps(conn))
    asked = post(client, payload("ia-form-1"))
    assert asked.status_code == 200
    fields = {f["name"]: f for f in asked.json()["fields"]}
    assert fields["destination_prefix"]["value"] == "frameio"
    assert "include_versions" in fields
    assert runs_for("ia-form-1") == []

    answered = post(client, payload("ia-form-1", data={"destination_prefix": "/client-x/", "include_versions": "true"}))
    assert answered.status_code == 200
    conf = runs_for("ia-form-1")[0][1]
    assert conf["destination_prefix"] == "client-x"
    assert conf["include_versions"] is True


def test_without_a_destination_bucket_nothing_is_queued(client, monkeypatch):
    conn = {"conn_type": "http", "extra": {"custom_action_secret": SECRET}}
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps(conn))
    resp = post(client, payload("ia-nobucket"))
    assert resp.status_code == 200
    assert resp.json()["title"] == "Backup not configured"
    assert runs_for("ia-nobucket") == []
