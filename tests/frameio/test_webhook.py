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


# -- V4 Actions: resources, answers of every field kind, content that cannot start a backup ------
def v4_action(interaction_id: str, **fields) -> bytes:
    body = {
        "account_id": "acct-9",
        "action_id": "act-1",
        "interaction_id": interaction_id,
        "project": {"id": "project-1"},
        "resource": {"id": "file-123", "type": "file"},
        "type": "mediaflow.backup",
        "user": {"id": "user-1"},
        "workspace": {"id": "ws-1"},
    }
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


@pytest.fixture
def form_conn(monkeypatch):
    conn = {
        "conn_type": "http",
        "extra": {
            "custom_action_secret": SECRET,
            "destination_bucket": "mediaflow-backup",
            "destination_buckets": ["mediaflow-backup", "mediaflow-archive"],
            "custom_action_form": True,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps(conn))


def test_a_multi_asset_click_is_one_run_over_every_resource(client):
    resources = [
        {"id": "file-1", "type": "file"},
        {"id": "folder-2", "type": "folder"},
        {"id": "stack-3", "type": "version_stack"},
        {"id": "file-1", "type": "file"},  # selected twice: backed up once
    ]
    resp = post(client, v4_action("ia-multi", resource=None, resources=resources))
    assert resp.status_code == 200
    assert resp.json() == {
        "title": "Backup queued",
        "description": resp.json()["description"],
    }
    assert resp.json()["description"].startswith("3 Frame.io assets are being backed up to s3://mediaflow-backup")
    (run,) = runs_for("ia-multi")
    conf = run[1]
    assert (conf["asset_id"], conf["asset_type"]) == ("file-1", "file")
    assert conf["assets"] == [
        {"asset_id": "folder-2", "asset_type": "folder"},
        {"asset_id": "stack-3", "asset_type": "version_stack"},
    ]


def test_the_form_offers_each_documented_field_kind(client, form_conn):
    resp = post(client, v4_action("ia-form-kinds"))
    assert resp.status_code == 200
    form = resp.json()
    assert set(form) == {"title", "description", "fields"}
    kinds = {f["name"]: f["type"] for f in form["fields"]}
    assert kinds == {
        "destination_bucket": "select",
        "destination_prefix": "text",
        "include_versions": "boolean",
        "skip_existing": "boolean",
        "airflow_runs": "link",
    }
    bucket = next(f for f in form["fields"] if f["name"] == "destination_bucket")
    assert bucket["options"] == [
        {"name": "mediaflow-backup", "value": "mediaflow-backup"},
        {"name": "mediaflow-archive", "value": "mediaflow-archive"},
    ]
    link = next(f for f in form["fields"] if f["name"] == "airflow_runs")
    assert link["value"].endswith("/dags/frameio_backup/runs")
    assert runs_for("ia-form-kinds") == []


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # select, text, boolean as Frame.io sends them (strings), and the echoed link ignored
        (
            {
                "destination_bucket": "mediaflow-archive",
                "destination_prefix": "client x/day 1",
                "include_versions": "true",
                "skip_existing": "false",
                "airflow_runs": "https://airflow/dags/frameio_backup/runs",
            },
            ("mediaflow-archive", "client x/day 1", True, False),
        ),
        # a multi-select answer holding one value, JSON booleans, a text area on one line
        (
            {"destination_bucket": ["mediaflow-archive"], "destination_prefix": "notes", "include_versions": False},
            ("mediaflow-archive", "notes", False, True),
        ),
        # prefixes that would climb out of the bucket or start at its root are normalised
        ({"destination_prefix": "../../etc"}, ("mediaflow-backup", "etc", False, True)),
        ({"destination_prefix": "/a/./b/../c//"}, ("mediaflow-backup", "a/b/c", False, True)),
    ],
)
def test_answers_of_each_field_kind_shape_the_conf(client, form_conn, answers, expected):
    interaction = f"ia-answers-{abs(hash(json.dumps(answers, sort_keys=True)))}"
    assert post(client, v4_action(interaction, data=answers)).json()["title"] == "Backup queued"
    conf = runs_for(interaction)[0][1]
    got = (conf["destination_bucket"], conf["destination_prefix"], conf["include_versions"], conf["skip_existing"])
    assert got == expected
    assert not conf["destination_prefix"].startswith("/")
    assert ".." not in conf["destination_prefix"].split("/")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"resource": {"id": "c-1", "type": "comment"}}, "A Frame.io comment cannot be backed up"),
        ({"resource": {"id": "x" * 200, "type": "file"}}, "200 characters"),
        ({"account_id": 123456}, "account_id must be the Frame.io account's text id, got int"),
        ({"resource": None}, "names no resource"),
        ({"resources": [{"id": f"f{i}", "type": "file"} for i in range(101)], "resource": None}, "at most 100"),
        ({"data": {"destination_bucket": "someone-elses"}}, "is not one of the choices"),
        ({"data": {"destination_bucket": ["mediaflow-backup", "mediaflow-archive"]}}, "Choose exactly one"),
        ({"data": {"destination_prefix": "line one\nline two"}}, "must be one line"),
        ({"data": {"destination_prefix": 2024}}, "destination_prefix must be text, got int"),
        ({"data": {"include_versions": "maybe"}}, "include_versions must be true or false"),
        ({"data": "not an object"}, "must be an object"),
    ],
)
def test_content_that_cannot_start_a_backup_gets_a_readable_message_and_no_run(client, form_conn, fields, expected):
    interaction = f"ia-refused-{abs(hash(json.dumps(fields, sort_keys=True)))}"
    resp = post(client, v4_action(interaction, **fields))
    assert resp.status_code == 200, resp.text
    assert resp.json()["title"] == "Backup not started"
    assert expected in resp.json()["description"]
    assert runs_for(interaction) == []


def test_a_conf_the_dag_refuses_is_answered_with_the_whole_conf_check_sentence(client):
    resp = post(client, v4_action("ia-long-prefix", data={"destination_prefix": "p" * 1100}))
    assert resp.status_code == 200
    assert resp.json()["title"] == "Backup not started"
    assert resp.json()["description"].startswith("frameio_backup: destination_prefix")
    assert runs_for("ia-long-prefix") == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"{" * 5000 + b"}" * 5000])
def test_signed_bodies_that_are_not_an_action_get_a_message_not_a_5xx(client, body):
    resp = post(client, body)
    assert resp.status_code == 200
    assert resp.json()["title"] == "Backup not started"


def test_an_error_while_queueing_is_a_message_not_a_5xx(synced_dag, monkeypatch):
    from fastapi.testclient import TestClient

    from mediaflow.frameio.webhook import connection_settings, create_app

    def broken(run_id, conf):
        raise RuntimeError("metadata database unavailable")

    conn = {"conn_type": "http", "extra": {"custom_action_secret": SECRET, "destination_bucket": "mediaflow-backup"}}
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps(conn))
    app = create_app(settings=connection_settings, trigger=broken)
    resp = post(TestClient(app, raise_server_exceptions=False), v4_action("ia-broken"))
    assert resp.status_code == 200
    assert resp.json()["title"] == "Backup not started"
    assert "try again" in resp.json()["description"]


def test_an_oversized_body_is_refused_unread(client):
    resp = client.post(
        "/custom-action",
        content=b"{" + b" " * (300 * 1024) + b"}",
        headers={"X-Frameio-Request-Timestamp": "1", "X-Frameio-Signature": "v0=00"},
    )
    assert resp.status_code == 413


# -- V4 webhook events: a completed upload is recorded once -------------------------------------
WEBHOOK_SECRET = "webhook-signing-secret-9876543210"


@pytest.fixture
def hook_client(synced_dag, monkeypatch):
    from fastapi.testclient import TestClient

    from mediaflow.frameio.webhook import app

    conn = {
        "conn_type": "http",
        "extra": {"webhook_secret": WEBHOOK_SECRET, "destination_bucket": "mediaflow-backup"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps(conn))
    return TestClient(app)


def upload_event(file_id: str, kind: str = "file.upload.completed", resource_type: str = "file") -> bytes:
    return json.dumps(
        {
            "account": {"id": "acct-9"},
            "project": {"id": "project-1"},
            "resource": {"id": file_id, "type": resource_type},
            "type": kind,
            "user": {"id": "user-1"},
            "workspace": {"id": "ws-1"},
        }
    ).encode()


def deliver(client, body: bytes, *, secret: str = WEBHOOK_SECRET, ts: int | None = None):
    ts = int(time.time()) if ts is None else ts
    headers = {"X-Frameio-Request-Timestamp": str(ts), "X-Frameio-Signature": sign(secret, ts, body)}
    return client.post("/webhook", content=body, headers=headers)


def recorded_events(file_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        extras = session.scalars(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "frameio_uploads")
        ).all()
    return [e for e in extras if e.get("target", {}).get("asset_id") == file_id]


def test_a_completed_upload_is_recorded_once_whatever_is_delivered_again(hook_client):
    first = deliver(hook_client, upload_event("up-1"))
    assert first.status_code == 200
    assert first.json() == {"status": "queued", "file_id": "up-1"}
    retried = deliver(hook_client, upload_event("up-1"), ts=int(time.time()) - 60)  # re-signed retry
    ready = deliver(hook_client, upload_event("up-1", "file.ready"))  # transcoding finished
    assert [r.json()["status"] for r in (retried, ready)] == ["duplicate", "duplicate"]
    (event,) = recorded_events("up-1")
    assert event["event_key"] == "frameio-upload:acct-9:up-1"
    assert event["event_type"] == "file.upload.completed"
    assert event["target"] == {
        "asset_id": "up-1",
        "asset_type": "file",
        "api_version": "v4",
        "account_id": "acct-9",
        "destination_bucket": "mediaflow-backup",
        "destination_prefix": "",
        "include_versions": False,
        "skip_existing": True,
    }


@pytest.mark.parametrize("case", ["wrong_secret", "stale", "body_altered"])
def test_badly_signed_events_get_401_and_record_nothing(hook_client, case):
    file_id = f"up-bad-{case}"
    body = upload_event(file_id)
    if case == "wrong_secret":
        resp = deliver(hook_client, body, secret="not-the-secret")
    elif case == "stale":
        resp = deliver(hook_client, body, ts=int(time.time()) - 301)
    else:
        ts = int(time.time())
        resp = hook_client.post(
            "/webhook",
            content=body.replace(b"acct-9", b"acct-8"),
            headers={"X-Frameio-Request-Timestamp": str(ts), "X-Frameio-Signature": sign(WEBHOOK_SECRET, ts, body)},
        )
    assert resp.status_code == 401
    assert recorded_events(file_id) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (upload_event("up-created", "file.created"), "does not start a backup"),
        (upload_event("up-folder", "file.upload.completed", resource_type="folder"), "not a file"),
        (b'{"type": "file.upload.completed"}', "not a file"),
        (b"[]", "not a JSON object"),
        (b"{oops", "not valid JSON"),
    ],
)
def test_events_that_are_not_completed_uploads_are_ignored(hook_client, body, reason):
    resp = deliver(hook_client, body)
    assert resp.status_code == 200
    assert resp.json()["status"] == "ignored"
    assert reason in resp.json()["reason"]
    assert recorded_events("up-created") == [] and recorded_events("up-folder") == []


def test_an_upload_without_a_destination_is_refused_by_the_whole_conf_check(hook_client, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FRAMEIO_DEFAULT", json.dumps({"extra": {"webhook_secret": WEBHOOK_SECRET}}))
    answer = deliver(hook_client, upload_event("up-nowhere")).json()
    assert answer["status"] == "refused"
    assert answer["reason"].startswith("frameio_backup: destination_bucket is required")
    assert recorded_events("up-nowhere") == []


def test_every_recorded_upload_is_part_of_the_next_run(hook_client):
    """Airflow queues one run marker per asset and DAG and keeps its first time; an event recorded
    while it is queued must still fall inside the run the scheduler creates from it."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == "frameio_backup").values(is_paused=False))
    try:
        for file_id in ("batch-1", "batch-2", "batch-3"):
            assert deliver(hook_client, upload_event(file_id)).json()["status"] == "queued"
        with create_session() as session:
            (queued,) = session.scalars(
                select(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == "frameio_backup")
            ).all()
            latest = session.scalar(select(AssetEvent.timestamp).order_by(AssetEvent.timestamp.desc()).limit(1))
            assert queued.created_at >= latest  # the run the scheduler makes takes all three events
    finally:
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id == "frameio_backup").values(is_paused=True))
