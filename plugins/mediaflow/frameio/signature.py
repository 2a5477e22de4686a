"""Frame.io Custom Action requests without Airflow: signature check, payload parsing (v2 and
v4), the form, and the DAG run id.

Frame.io signs `v0:{X-Frameio-Request-Timestamp}:{raw body}` with HMAC-SHA256 and the action's
secret, sent as `X-Frameio-Signature: v0=<hex>`. We refuse timestamps more than five minutes
off in either direction (a replayed or pre-dated request) and compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

from mediaflow.common.conf import to_bool
from mediaflow.common.errors import InputError

TOLERANCE_SECONDS = 300
RUN_ID_PREFIX = "frameio_custom_action__"
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]")


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
) -> str | None:
    """None when the request is authentic; otherwise why not (for the log, never for the caller)."""
    if not secret:
        return "no custom_action_secret in the frameio_default connection extra"
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
class CustomAction:
    interaction_id: str
    resource_id: str
    resource_type: str | None
    api_version: str
    account_id: str | None
    data: dict[str, Any] | None
    user_id: str | None = None
    project_id: str | None = None


def parse(payload: dict[str, Any]) -> CustomAction:
    """A v2 or v4 Custom Action body. v4 carries `account_id` and `workspace`; v2 carries `team`."""
    resource = payload.get("resource") or {}
    interaction_id = str(payload.get("interaction_id") or "")
    resource_id = str(resource.get("id") or "")
    if not interaction_id or not resource_id:
        raise InputError("the Custom Action payload has no interaction_id or resource.id")
    v4 = "account_id" in payload or "workspace" in payload
    kind = resource.get("type")
    asset_type = kind if kind in ("file", "folder", "version_stack") else None  # v2 says "asset"
    data = payload.get("data")
    return CustomAction(
        interaction_id=interaction_id,
        resource_id=resource_id,
        resource_type=asset_type,
        api_version="v4" if v4 else "v2",
        account_id=payload.get("account_id") if v4 else None,
        data=data if isinstance(data, dict) else None,
        user_id=(payload.get("user") or {}).get("id"),
        project_id=(payload.get("project") or {}).get("id"),
    )


def run_id_for(interaction_id: str) -> str:
    """One DAG run per interaction: Frame.io's retries of the same click map to the same id."""
    cleaned = _RUN_ID_UNSAFE.sub("_", interaction_id)
    if len(cleaned) > 200 or cleaned != interaction_id:
        cleaned = cleaned[:150] + "." + hashlib.sha256(interaction_id.encode()).hexdigest()[:16]
    return RUN_ID_PREFIX + cleaned


def form(default_prefix: str) -> dict[str, Any]:
    return {
        "title": "Back up to S3",
        "description": "Choose where the backup goes. Everything below the selected asset is copied.",
        "fields": [
            {"type": "text", "label": "Destination prefix", "name": "destination_prefix", "value": default_prefix},
            {"type": "boolean", "label": "Include every version", "name": "include_versions", "value": "false"},
        ],
    }


def build_conf(action: CustomAction, settings: dict[str, Any]) -> dict[str, Any]:
    """The `frameio_backup` conf for an action; form answers override the connection defaults."""
    data = action.data or {}
    prefix = data.get("destination_prefix", settings.get("destination_prefix") or "")
    if not isinstance(prefix, str) or len(prefix) > 1024:
        raise InputError("destination_prefix must be text of at most 1024 characters")
    return {
        "asset_id": action.resource_id,
        "asset_type": action.resource_type,
        "api_version": action.api_version,
        "account_id": action.account_id,
        "destination_bucket": settings["destination_bucket"],
        "destination_prefix": prefix.strip("/"),
        "include_versions": to_bool(data.get("include_versions"), False),
        "skip_existing": True,
        "interaction_id": action.interaction_id,
    }
