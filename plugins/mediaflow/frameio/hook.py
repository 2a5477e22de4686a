"""FrameioHook: the `frameio_default` connection as a Frame.io API client.

Connection shape (type `http`):
- host: API base URL (default https://api.frame.io; point it at the local stand-in for tests)
- login / password: v4 server-to-server client id / client secret (Adobe IMS)
- extra: `api_version` ("v4" or "v2"), `token` (v2 developer token), `ims_url`, `scopes`,
  `account_id` (default v4 account), `custom_action_secret` (webhook signing secret),
  `destination_bucket` / `destination_prefix` (where Custom Action backups go)

Every secret is registered with Airflow's log masker before use, so a token that ever reached
a log line would print as `***`.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook

from mediaflow.frameio.client import DEFAULT_BASE_URL, DEFAULT_IMS_URL, DEFAULT_SCOPES, FrameioClient

log = logging.getLogger(__name__)


def _mask(secret: str) -> None:
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception as exc:  # noqa: BLE001 - masking is best effort outside a task (e.g. the API server)
        log.debug("could not register a Frame.io secret with the log masker: %s", type(exc).__name__)


def client_from_connection(
    conn: Any, *, api_version: str | None = None, account_id: str | None = None, **overrides: Any
) -> FrameioClient:
    """Build a client from an Airflow Connection (task or API-server side alike)."""
    extra = conn.extra_dejson or {}
    host = conn.host or extra.get("base_url") or DEFAULT_BASE_URL
    if not host.startswith("http"):
        host = f"https://{host}"
    version = api_version or extra.get("api_version") or "v4"
    return FrameioClient(
        base_url=host,
        api_version=version,
        token=extra.get("token") or (conn.password if version == "v2" and not conn.login else None),
        client_id=conn.login or extra.get("client_id"),
        client_secret=conn.password or extra.get("client_secret"),
        ims_url=extra.get("ims_url") or DEFAULT_IMS_URL,
        scopes=extra.get("scopes") or DEFAULT_SCOPES,
        account_id=account_id or extra.get("account_id"),
        max_retries=int(extra.get("max_retries", 10)),
        mask=_mask,
        **overrides,
    )


class FrameioHook(BaseHook):
    """Thin wrapper: reads the connection and hands out a configured `FrameioClient`."""

    conn_name_attr = "frameio_conn_id"
    default_conn_name = "frameio_default"
    conn_type = "http"
    hook_name = "Frame.io"

    def __init__(
        self,
        frameio_conn_id: str = default_conn_name,
        *,
        api_version: str | None = None,
        account_id: str | None = None,
        **client_overrides: Any,
    ) -> None:
        super().__init__()
        self.frameio_conn_id = frameio_conn_id
        self.api_version = api_version
        self.account_id = account_id
        self.client_overrides = client_overrides
        self._client: FrameioClient | None = None

    def get_conn(self) -> FrameioClient:
        if self._client is None:
            conn = self.get_connection(self.frameio_conn_id)
            self._client = client_from_connection(
                conn, api_version=self.api_version, account_id=self.account_id, **self.client_overrides
            )
        return self._client

    @property
    def extra(self) -> dict[str, Any]:
        return self.get_connection(self.frameio_conn_id).extra_dejson or {}
