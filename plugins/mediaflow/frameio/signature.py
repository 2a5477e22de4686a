"""Frame.io Actions (V4; Custom Actions in v2) without Airflow: signature check, payload parsing,
the form and its answers, and the DAG run id.

Frame.io signs `v0:{X-Frameio-Request-Timestamp}:{raw body}` with HMAC-SHA256 and the secret it
returned when the Action (or webhook) was created, sent as `X-Frameio-Signature: v0=<hex>`. We
refuse timestamps more than five minutes off in either direction (a replayed or pre-dated
request) and compare in constant time. Webhook events (`events.py`) are signed the same way.

A V4 Action payload names the account (`account_id`), `workspace`, `project`, `user`, the
`resource` the user clicked (`{id, type}`; a multi-asset Action sends up to 100 of them as
`resources`) and, once the user submitted the form we answered with, the form's answers in
`data`. Everything here raises `ActionRefused` with a sentence for the user on content it cannot
use, so the receiver answers with a Frame.io message instead of an error.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any

from mediaflow.common.errors import InputError
from mediaflow.frameio.api import normalize_prefix

TOLERANCE_SECONDS = 300
RUN_ID_PREFIX = "frameio_custom_action__"
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]")
#: what a backup can start from; a comment, a share or a review link cannot be backed up
BACKUP_TYPES = ("file", "folder", "version_stack", "project")
#: the most resources one multi-asset Action click sends
MAX_RESOURCES = 100
#: the longest id a backup conf takes (the contract's `asset_id`); Frame.io's are 36-character UUIDs
MAX_ID_LENGTH = 128


class ActionRefused(InputError):
    """The payload is authentic but cannot start a backup; the message is for the Frame.io user."""


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
    setting: str = "custom_action_secret",  # noqa: S107 - the extra key named in the log, not a secret
) -> str | None:
    """None when the request is authentic; otherwise why not (for the log, never for the caller)."""
    if not secret:
        return f"no {setting} in the frameio_default connection extra"
    if not timestamp or not signature:
        return "missing X-Frameio-Request-Timestamp or X-Frameio-Signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "timestamp is not epoch seconds"
    skew = (time.time() if now is None else now) - sent
    if abs(skew) > tolerance:
        return f"timestamp {'too old' if skew > 0 else 'in the future'} ({int(skew)} s off)"
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        return "signature does not match"
    return None


@dataclass
class Resource:
    id: str
    #: file, folder, version_stack or project; None when v2 says "asset" (the backup looks it up)
    type: str | None


@dataclass
class CustomAction:
    interaction_id: str
    resources: list[Resource]
    api_version: str
    account_id: str | None
    data: dict[str, Any] | None
    user_id: str | None = None
    project_id: str | None = None
    workspace_id: str | None = None
    event: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resource_id(self) -> str:
        return self.resources[0].id

    @property
    def resource_type(self) -> str | None:
        return self.resources[0].type


def _id(value: Any, what: str) -> str:
    """An id as text: Frame.io sends UUID strings; anything else is named in the refusal."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ActionRefused(f"{what} must be a text id, got {type(value).__name__}.")
    text = str(value).strip()
    if not text:
        raise ActionRefused(f"{what} is empty.")
    if len(text) > MAX_ID_LENGTH:
        raise ActionRefused(f"{what} is {len(text)} characters long; Frame.io ids are at most {MAX_ID_LENGTH}.")
    return text


def _inner_id(payload: dict[str, Any], key: str) -> str | None:
    inner = payload.get(key)
    if isinstance(inner, dict) and isinstance(inner.get("id"), str):
        return inner["id"]
    return None


def _resource(raw: Any, where: str) -> Resource:
    if not isinstance(raw, dict):
        raise ActionRefused(f"{where} must be an object with an id and a type.")
    kind = raw.get("type")
    if kind == "asset":  # v2 calls every file, folder and stack an asset
        kind = None
    elif kind not in BACKUP_TYPES:
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise ActionRefused(
            f"A Frame.io {shown} cannot be backed up. Run the action on a file, folder, version stack or project."
        )
    return Resource(_id(raw.get("id"), f"{where}.id"), kind)


def parse(payload: Any) -> CustomAction:
    """A V4 Action or v2 Custom Action body. V4 carries `account_id` and `workspace`; v2 `team`."""
    if not isinstance(payload, dict):
        raise ActionRefused("The request body is not a JSON object.")
    interaction_id = _id(payload.get("interaction_id"), "interaction_id")
    raw_many = payload.get("resources")
    if raw_many is not None:
        if not isinstance(raw_many, list) or not raw_many:
            raise ActionRefused("resources must be a non-empty list of {id, type} objects.")
        if len(raw_many) > MAX_RESOURCES:
            raise ActionRefused(f"{len(raw_many)} assets were selected; one action backs up at most {MAX_RESOURCES}.")
        resources = [_resource(raw, f"resources[{i}]") for i, raw in enumerate(raw_many)]
    elif payload.get("resource") is not None:
        resources = [_resource(payload["resource"], "resource")]
    else:
        raise ActionRefused("The payload names no resource to back up.")
    unique = list({r.id: r for r in resources}.values())  # the same asset twice is backed up once
    v4 = "account_id" in payload or "workspace" in payload
    raw_account = payload.get("account_id")
    if v4 and raw_account is not None and not isinstance(raw_account, str):
        raise ActionRefused(f"account_id must be the Frame.io account's text id, got {type(raw_account).__name__}.")
    account_id = _id(raw_account, "account_id") if v4 and raw_account is not None else None
    if not v4 and any(r.type == "project" for r in unique):
        raise ActionRefused("Projects can only be backed up through Frame.io V4 actions.")
    data = payload.get("data")
    if data is not None and not isinstance(data, dict):
        raise ActionRefused("The form answers (data) must be an object of field names and values.")
    return CustomAction(
        interaction_id=interaction_id,
        resources=unique,
        api_version="v4" if v4 else "v2",
        account_id=account_id,
        data=data,
        user_id=_inner_id(payload, "user"),
        project_id=_inner_id(payload, "project"),
        workspace_id=_inner_id(payload, "workspace"),
        event=payload.get("type") if isinstance(payload.get("type"), str) else None,
    )


def run_id_for(interaction_id: str) -> str:
    """One DAG run per interaction: Frame.io's retries of the same click map to the same id."""
    cleaned = _RUN_ID_UNSAFE.sub("_", interaction_id)
    if len(cleaned) > 200 or cleaned != interaction_id:
        cleaned = cleaned[:150] + "." + hashlib.sha256(interaction_id.encode()).hexdigest()[:16]
    return RUN_ID_PREFIX + cleaned


# -- the form and its answers -------------------------------------------------------------------
def buckets(settings: dict[str, Any]) -> list[str]:
    """The buckets a user may pick: `destination_buckets` of the connection, the default first."""
    default = settings.get("destination_bucket") or ""
    listed = [b for b in settings.get("destination_buckets") or [] if isinstance(b, str) and b]
    return list(dict.fromkeys([b for b in [default, *listed] if b]))


def form(settings: dict[str, Any], runs_url: str = "") -> dict[str, Any]:
    """The form callback: where the backup goes and what it covers, with the connection's defaults."""
    fields: list[dict[str, Any]] = [
        {
            "type": "select",
            "label": "Destination bucket",
            "name": "destination_bucket",
            "value": settings.get("destination_bucket") or "",
            "options": [{"name": b, "value": b} for b in buckets(settings)],
        },
        {
            "type": "text",
            "label": "Destination prefix",
            "name": "destination_prefix",
            "value": settings.get("destination_prefix") or "",
        },
        {"type": "boolean", "label": "Include every version", "name": "include_versions", "value": "false"},
        {"type": "boolean", "label": "Skip files already backed up", "name": "skip_existing", "value": "true"},
    ]
    if runs_url:
        fields.append({"type": "link", "label": "Backup runs in Airflow", "name": "airflow_runs", "value": runs_url})
    return {
        "title": "Back up to S3",
        "description": "Choose where the backup goes. Everything below the selected assets is copied.",
        "fields": fields,
    }


def _one(value: Any, name: str) -> Any:
    """A single answer: a multi-select sends a list, which is fine when it holds one value."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ActionRefused(f"Choose exactly one {name.replace('_', ' ')}; {len(value)} were selected.")
        return value[0]
    return value


def answer_text(value: Any, name: str, *, one_line: bool = True) -> str:
    """A text or text-area answer (or a one-item multi-select)."""
    value = _one(value, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ActionRefused(f"{name} must be text, got {type(value).__name__}.")
    if one_line and ("\n" in value or "\r" in value):
        raise ActionRefused(f"{name} must be one line; remove the line breaks.")
    return value.strip()


def answer_choice(value: Any, name: str, options: list[str]) -> str:
    """A select (or one-item multi-select) answer that must be one of `options`."""
    chosen = answer_text(value, name)
    if chosen not in options:
        raise ActionRefused(f"{name} {chosen!r} is not one of the choices ({', '.join(options) or 'none configured'}).")
    return chosen


def answer_bool(value: Any, name: str, default: bool) -> bool:
    """A boolean field: Frame.io sends "true"/"false" (the form's value type) or a JSON boolean."""
    value = _one(value, name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise ActionRefused(f"{name} must be true or false, got {value!r}.")


def build_conf(action: CustomAction, settings: dict[str, Any]) -> dict[str, Any]:
    """The `frameio_backup` conf for an action; form answers override the connection defaults.

    The first resource is `asset_id`; the others of a multi-asset click go to `assets`, so one
    click is one run. Link fields are display-only and their echoed values are ignored."""
    data = action.data or {}
    bucket = settings.get("destination_bucket") or ""
    if "destination_bucket" in data:
        bucket = answer_choice(data["destination_bucket"], "destination_bucket", buckets(settings))
    prefix = settings.get("destination_prefix") or ""
    if "destination_prefix" in data:
        prefix = answer_text(data["destination_prefix"], "destination_prefix")
    conf: dict[str, Any] = {
        "asset_id": action.resource_id,
        "asset_type": action.resource_type,
        "api_version": action.api_version,
        "account_id": action.account_id,
        "destination_bucket": bucket,
        "destination_prefix": normalize_prefix(prefix),
        "include_versions": answer_bool(data.get("include_versions"), "include_versions", False),
        "skip_existing": answer_bool(data.get("skip_existing"), "skip_existing", True),
        "interaction_id": action.interaction_id,
    }
    if len(action.resources) > 1:
        conf["assets"] = [{"asset_id": r.id, "asset_type": r.type} for r in action.resources[1:]]
    return conf
