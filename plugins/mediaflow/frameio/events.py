"""Frame.io V4 webhook events without Airflow: which ones start a backup, their idempotence key,
and the backup targets of a batch of them.

A V4 webhook body is `{type, resource: {id, type}, account: {id}, workspace: {id},
project: {id}, user: {id}}`, signed like an Action (`signature.verify`). It carries no event id,
and Frame.io re-signs each of its retries with a new timestamp, so the body's own identity is
the key: one uploaded file (account + file id) is backed up once, whichever of its upload
events (`file.upload.completed`, then `file.ready` when transcoding ends) arrives first, and
however often it is retried or replayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mediaflow.common.errors import InputError
from mediaflow.frameio.api import normalize_prefix

#: events that mean "this file's bytes are all in Frame.io"; `file.created` fires before the upload
UPLOAD_EVENTS = ("file.upload.completed", "file.ready", "file.versioned")
DEFAULT_UPLOAD_EVENTS = ("file.upload.completed", "file.ready")
EVENT_KEY_PREFIX = "frameio-upload"


class EventIgnored(InputError):
    """An authentic event that does not start a backup (another type, not a file, malformed)."""


@dataclass
class UploadEvent:
    type: str
    file_id: str
    account_id: str
    project_id: str | None
    workspace_id: str | None
    user_id: str | None

    @property
    def key(self) -> str:
        """The idempotence key: one backup per uploaded file."""
        return f"{EVENT_KEY_PREFIX}:{self.account_id}:{self.file_id}"


def _inner(payload: Mapping[str, Any], name: str) -> str | None:
    inner = payload.get(name)
    value = inner.get("id") if isinstance(inner, dict) else None
    return value if isinstance(value, str) and value else None


def parse_event(payload: Any, handled: Iterable[str] = DEFAULT_UPLOAD_EVENTS) -> UploadEvent:
    """The upload event a webhook body describes; `EventIgnored` (with why) for anything else."""
    if not isinstance(payload, dict):
        raise EventIgnored("the body is not a JSON object")
    kind = payload.get("type")
    if kind not in set(handled):
        raise EventIgnored(f"event type {kind!r} does not start a backup (handled: {', '.join(handled)})")
    resource = payload.get("resource")
    if not isinstance(resource, dict) or resource.get("type") != "file":
        raise EventIgnored("the event's resource is not a file")
    file_id, account_id = resource.get("id"), _inner(payload, "account")
    if not isinstance(file_id, str) or not file_id or len(file_id) > 128:
        raise EventIgnored("resource.id is not a Frame.io file id")
    if not account_id or len(account_id) > 128:
        raise EventIgnored("the event names no account")
    return UploadEvent(
        type=kind,
        file_id=file_id,
        account_id=account_id,
        project_id=_inner(payload, "project"),
        workspace_id=_inner(payload, "workspace"),
        user_id=_inner(payload, "user"),
    )


def target_for(event: UploadEvent, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The `frameio_backup` conf for one uploaded file, with the destination the connection
    sets for uploads (`upload_destination_bucket`/`_prefix`, else the Action's defaults)."""
    return {
        "asset_id": event.file_id,
        "asset_type": "file",
        "api_version": "v4",
        "account_id": event.account_id,
        "destination_bucket": settings.get("upload_destination_bucket") or settings.get("destination_bucket") or None,
        "destination_prefix": normalize_prefix(
            settings.get("upload_destination_prefix") or settings.get("destination_prefix") or ""
        ),
        "include_versions": False,
        "skip_existing": True,
    }


def event_extra(event: UploadEvent, target: Mapping[str, Any]) -> dict[str, Any]:
    """What the Airflow asset event records: the key, where it came from, and its target."""
    return {
        "event_key": event.key,
        "event_type": event.type,
        "project_id": event.project_id,
        "workspace_id": event.workspace_id,
        "target": dict(target),
    }


def targets_from_extras(extras: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The backup targets of the upload events a run consumed: one per file, in arrival order,
    each keeping its Frame.io folder path in the key (as a project backup would)."""
    seen: set[str] = set()
    targets: list[dict[str, Any]] = []
    for extra in extras:
        target, key = extra.get("target"), extra.get("event_key")
        if not isinstance(target, dict) or not isinstance(key, str) or key in seen:
            continue
        seen.add(key)
        targets.append({**target, "keep_path": True})
    return targets
