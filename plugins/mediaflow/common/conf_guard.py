"""ASGI middleware on the API server: refuse unknown conf keys for mediaflow DAGs.

Airflow validates the values of declared Params but lets undeclared keys through. A typo such
as `destination_bucker` would then run with the default. This guard answers 400 naming the
key before any DAG run is created, for the REST API and the UI trigger form alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mediaflow.common.contracts import unknown_keys, unknown_keys_message

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TRIGGER_PATH = re.compile(r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?$")


class UnknownConfKeyGuard:
    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = TRIGGER_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        dag_id = match.group("dag_id")
        try:
            conf = json.loads(body or b"{}").get("conf") or {}
        except (ValueError, AttributeError):
            conf = {}  # let Airflow report the malformed body itself
        keys = unknown_keys(dag_id, conf) if isinstance(conf, dict) else []
        if keys:
            payload = json.dumps({"detail": unknown_keys_message(dag_id, keys)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
