"""The API-server guard at the ASGI level: what it reads, when, and what it answers.

The same guard runs in a real API server in tests/integration/test_conf_checks.py; here each
branch is driven with ASGI messages, so it is visible what was read from the client."""

from __future__ import annotations

import asyncio
import json

import pytest

from mediaflow.common.conf_guard import MAX_BODY_BYTES, ConfGuard

TRIGGER = "/api/v2/dags/s3_bulk_copy/dagRuns"
GOOD = {"source_bucket": "media-in", "destination_bucket": "media-out", "destination_prefix": "2024"}


class Client:
    """An ASGI conversation: the body in chunks, what the guard read and what it answered."""

    def __init__(self, body: bytes, chunk: int = 65536, content_length: bool = True, token: bool = True):
        self.chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
        self.headers = [(b"content-type", b"application/json")]
        if content_length:
            self.headers.append((b"content-length", str(len(body)).encode()))
        if token:
            self.headers.append((b"authorization", b"Bearer good"))
        self.read = 0
        self.sent: list[dict] = []
        self.app_saw: bytes | None = None

    async def receive(self):
        chunk = self.chunks.pop(0)
        self.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message):
        self.sent.append(message)

    async def app(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.app_saw = body
        await send({"type": "http.response.start", "status": 200, "headers": []})

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def detail(self) -> str:
        return json.loads(self.sent[1]["body"])["detail"]


async def _authenticated(scope) -> bool:
    return (b"authorization", b"Bearer good") in scope["headers"]


def call(client: Client, path: str = TRIGGER, method: str = "POST", max_body_bytes: int = MAX_BODY_BYTES) -> Client:
    guard = ConfGuard(client.app, _authenticated, max_body_bytes=max_body_bytes)
    scope = {"type": "http", "method": method, "path": path, "headers": client.headers}
    asyncio.run(guard(scope, client.receive, client.send))
    return client


def body(conf, **extra) -> bytes:
    return json.dumps({"conf": conf, "logical_date": None, **extra}).encode()


def test_good_conf_reaches_airflow_byte_for_byte():
    sent = body(GOOD)
    client = call(Client(sent))
    assert client.status == 200
    assert client.app_saw == sent


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({**GOOD, "bogus": 1}, "unknown conf key(s) 'bogus'"),
        ({"destination_bucket": "media-out"}, "nothing to copy"),
        ({**GOOD, "min_size": "100"}, "min_size must be a whole number, not '100'."),
    ],
)
def test_bad_conf_is_answered_400_and_never_reaches_airflow(conf, expected):
    client = call(Client(body(conf)))
    assert client.status == 400
    assert expected in client.detail
    assert client.app_saw is None


def test_an_unauthenticated_request_is_not_read_and_airflow_answers_it():
    client = call(Client(body({"bogus": 1}), token=False))
    assert client.read == 0, "the guard read the body of an unauthenticated request"
    assert client.app_saw == b"", "Airflow gets no body to read: its auth check answers 401/403"
    assert client.status == 200  # this fake Airflow accepts anything; the real one says 401


def test_a_declared_oversized_body_gets_413_unread():
    client = call(Client(b"x" * (MAX_BODY_BYTES + 1)))
    assert (client.status, client.read) == (413, 0)
    assert f"larger than {MAX_BODY_BYTES} bytes" in client.detail
    assert client.app_saw is None


def test_a_streamed_oversized_body_is_read_only_up_to_the_limit():
    client = call(Client(b"x" * 5000, chunk=1000, content_length=False), max_body_bytes=2500)
    assert client.status == 413
    assert client.read <= 3000
    assert client.app_saw is None


def test_a_body_nested_too_deeply_is_a_400_not_a_500():
    client = call(Client(b"[" * 100_000 + b"]" * 100_000))
    assert client.status == 400
    assert "not valid JSON (it is nested too deeply)" in client.detail


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/dags/fields/dagRuns",
        "/api/v2/dags/someone_elses_dag/dagRuns/",
        "/api/v2/dags/~/dagRuns",
    ],
)
def test_every_dag_id_in_the_path_is_handled(path):
    client = call(Client(body({"anything": [1, 2]})), path=path)
    assert client.status == 200
    assert client.app_saw == body({"anything": [1, 2]})


def test_under_a_path_prefix_and_for_backfills_the_same_rules_apply():
    client = call(Client(body({**GOOD, "bogus": 1})), path="/airflow/api/v2/dags/s3_bulk_copy/dagRuns")
    assert client.status == 400
    backfill = json.dumps(
        {
            "dag_id": "frameio_backup_scheduled",
            "from_date": "2024-01-01T00:00:00Z",
            "to_date": "2024-01-02T00:00:00Z",
            "dag_run_conf": {"targets": [{"asset_id": "p"}]},
        }  # fmt: skip
    ).encode()
    for path in ("/api/v2/backfills", "/api/v2/backfills/dry_run"):
        client = call(Client(backfill), path=path)
        assert client.status == 400
        assert "targets[0] is missing 'destination_bucket'." in client.detail


@pytest.mark.parametrize(("method", "path"), [("GET", TRIGGER), ("POST", "/api/v2/dags/s3_bulk_copy/dagRuns/x/clear")])
def test_other_requests_pass_untouched(method, path):
    sent = body({"bogus": 1})
    client = call(Client(sent), path=path, method=method)
    assert client.status == 200
    assert client.app_saw == sent
