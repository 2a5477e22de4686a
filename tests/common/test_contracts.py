"""The conf contract helpers and the API-server guard that refuses unknown keys."""

from __future__ import annotations

import asyncio
import json

import pytest

from mediaflow.common.conf_guard import UnknownConfKeyGuard
from mediaflow.common.contracts import params_for, unknown_keys, unknown_keys_message


def test_unknown_keys_only_for_our_dags():
    assert unknown_keys("mediaflow_healthcheck", {"buckets": [], "bucketz": 1}) == ["bucketz"]
    assert unknown_keys("mediaflow_healthcheck", {"buckets": []}) == []
    assert unknown_keys("someone_elses_dag", {"anything": 1}) == []
    assert params_for("someone_elses_dag") is None


def test_message_names_the_key_and_the_accepted_ones():
    msg = unknown_keys_message("mediaflow_healthcheck", ["bucketz"])
    assert "'bucketz'" in msg
    assert "buckets" in msg
    assert "table_name" in msg


def _call(guard, path: str, body: dict):
    sent: list[dict] = []
    chunks = [json.dumps(body).encode()]

    async def receive():
        return {"type": "http.request", "body": chunks.pop(0) if chunks else b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path}
    asyncio.run(guard(scope, receive, send))
    return sent


@pytest.mark.parametrize(
    ("conf", "refused"),
    [({"buckets": ["a-bucket"]}, False), ({"buckets": ["a-bucket"], "bucketz": 1}, True), ({}, False)],
)
def test_guard_refuses_unknown_keys_and_passes_the_body_through(conf, refused):
    seen: dict = {}

    async def app(scope, receive, send):
        seen["body"] = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})

    sent = _call(UnknownConfKeyGuard(app), "/api/v2/dags/mediaflow_healthcheck/dagRuns", {"conf": conf})
    if refused:
        assert sent[0]["status"] == 400
        assert "bucketz" in json.loads(sent[1]["body"])["detail"]
        assert "body" not in seen
    else:
        assert sent[0]["status"] == 200
        assert json.loads(seen["body"]) == {"conf": conf}
