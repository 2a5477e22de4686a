"""S3 ObjectCreated notifications (as delivered by SQS, directly or through SNS) -> objects to process.

Pure: the DAG's first task hands it the payloads of the asset events that triggered the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

#: what the asset watcher lets through (`Records[*].eventName`); everything else is a no-op
OBJECT_CREATED_EVENTS = [
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
]


def decode_event_key(raw: str) -> str:
    """S3 event notifications URL-encode keys with `+` for spaces: `My+Clip%281%29.mp4`."""
    return unquote_plus(raw)


def _s3_event(body: Any) -> dict[str, Any] | None:
    """The S3 event inside an SQS body: raw delivery, or wrapped in an SNS envelope."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    if body.get("Type") == "Notification" and "Message" in body:
        return _s3_event(body["Message"])
    return body


def objects_from_message(message: dict[str, Any]) -> list[dict[str, str]]:
    """Objects created according to one SQS message; `s3:TestEvent` and other events give none."""
    event = _s3_event(message.get("Body", message))
    if not event or event.get("Event") == "s3:TestEvent":
        return []
    found = []
    for record in event.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        raw_key = (s3.get("object") or {}).get("key")
        if bucket and raw_key:
            found.append({"bucket": bucket, "key": decode_event_key(raw_key)})
    return found


def objects_from_asset_events(extras: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Every object named by the asset events' trigger payloads, first occurrence order, no repeats."""
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, str]] = []
    for extra in extras:
        payload = (extra or {}).get("payload") or {}
        for message in payload.get("message_batch") or []:
            for obj in objects_from_message(message):
                ident = (obj["bucket"], obj["key"])
                if ident not in seen:
                    seen.add(ident)
                    out.append(obj)
    return out
