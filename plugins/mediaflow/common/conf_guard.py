"""ASGI middleware on the API server: a mediaflow DAG's conf is checked as a whole before a run exists.

Airflow checks each Param on its own, words a failure as a jsonschema dump, and lets keys it does
not know through (a typo such as `destination_bucker` would run with the default). This guard
answers 400 with plain sentences instead (`contracts.conf_problem`: unknown keys, each value,
then the rules across keys), at each way in that creates runs with a conf:

- `POST .../api/v2/dags/{dag_id}/dagRuns`: the UI trigger form and REST callers;
- `POST .../api/v2/backfills` and `.../backfills/dry_run`: `dag_run_conf` of a backfill.

In this order, so that nobody can make the API server read or parse what it will not use:

1. Only an authenticated request is read: without a valid token (header or the UI's cookie) the
   request goes on to Airflow with its body withheld, and Airflow answers 401/403 as usual.
2. A body over `MAX_BODY_BYTES` gets 413: at once when `Content-Length` says so, else as soon as
   that many bytes have arrived.
3. A body that is not JSON gets 400. DAGs that are not mediaflow's pass on untouched after that.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from mediaflow.common.contracts import conf_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger(__name__)

#: the largest trigger or backfill body read; a mediaflow conf is a few KiB at most (100 routes)
MAX_BODY_BYTES = 1024 * 1024
TRIGGER_PATH = re.compile(r"(?:^|/)api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?$")
BACKFILL_PATH = re.compile(r"(?:^|/)api/v2/backfills(?:/dry_run)?/?$")


class Authenticator(Protocol):
    async def __call__(self, scope: Scope) -> bool:
        """True when the request carries a valid token of a known user."""


class TooLarge(Exception):
    pass


class ConfGuard:
    """The middleware; `authenticated` is injected so this module stays free of Airflow (the
    plugin passes `mediaflow.common.api_auth.authenticated`)."""

    def __init__(self, app: Callable, authenticated: Authenticator, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.authenticated = authenticated
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        trigger = TRIGGER_PATH.search(path)
        if trigger is None and BACKFILL_PATH.search(path) is None:
            await self.app(scope, receive, send)
            return
        if not await self.authenticated(scope):
            await self.app(scope, _replay(b"", receive), send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, self._too_large())
            return
        try:
            body = await self._read(receive)
        except TooLarge:
            await _answer(send, 413, self._too_large())
            return
        if body is None:  # the client went away
            return
        try:
            payload = json.loads(body or b"{}")
        except (ValueError, RecursionError) as exc:
            reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            await _answer(send, 400, f"The request body is not valid JSON ({reason}); send a JSON object.")
            return
        problem = self._problem(trigger.group("dag_id") if trigger else None, payload)
        if problem:
            log.info("refused %s: %s", path, problem)
            await _answer(send, 400, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _problem(self, dag_id: str | None, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return None  # Airflow describes a body of the wrong shape itself
        if dag_id is None:  # a backfill names its DAG in the body
            dag_id, conf = payload.get("dag_id"), payload.get("dag_run_conf")
        else:
            conf = payload.get("conf")
        if not isinstance(dag_id, str) or not isinstance(conf, dict | None):
            return None
        try:
            return conf_problem(dag_id, conf)
        except Exception:  # noqa: BLE001 - a bug here must not stop triggering; Airflow still validates
            log.exception("the conf check of %s failed; passing the request on to Airflow", dag_id)
            return None

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> str:
        return (
            f"The request body is larger than {self.max_body_bytes} bytes, the most this API server reads to "
            "trigger a DAG run; a conf is a few KiB. Put large lists in S3 (e.g. a manifest) and pass their URI."
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The app's `receive`: `body` as the whole request body, then the connection's own messages
    (a disconnect), so the app never reads what the guard withheld or already read."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))  # the unread body is not for this server to drain
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
