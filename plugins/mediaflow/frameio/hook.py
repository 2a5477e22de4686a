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
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook, Connection

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
    conn: Connection, *, api_version: str | None = None, account_id: str | None = None, **overrides: Any
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
    """Thin wrapper: reads the connection once and hands out configured `FrameioClient`s.

    :param frameio_conn_id: the Frame.io connection (see the module docstring for its shape)
    :param api_version: "v4" or "v2"; None takes the connection extra's `api_version` (else v4)
    :param account_id: the v4 account; None takes the connection extra's `account_id`
    :param client_overrides: further `FrameioClient` settings (timeouts, page size, retries)
    """

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
        self._clients: dict[tuple[str | None, str | None], FrameioClient] = {}

    @cached_property
    def connection(self) -> Connection:
        return self.get_connection(self.frameio_conn_id)

    def get_conn(self) -> FrameioClient:
        """The client for the hook's own `api_version` and `account_id`."""
        return self.get_client(self.api_version, self.account_id)

    def get_client(self, api_version: str | None = None, account_id: str | None = None) -> FrameioClient:
        """One client per (API version, account), built on first use and kept: its session and
        connection pool serve every call of the task."""
        key = (api_version or self.api_version, account_id or self.account_id)
        if key not in self._clients:
            self._clients[key] = client_from_connection(
                self.connection, api_version=key[0], account_id=key[1], **self.client_overrides
            )
        return self._clients[key]
