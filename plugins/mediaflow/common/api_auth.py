"""Who is calling the API server, for the conf guard: Airflow's own token check, done early.

The guard reads a trigger's body only for a caller Airflow would accept, so this resolves the
user the way Airflow's `get_user` dependency does (the `Authorization: Bearer` header, else the
UI's `_token` cookie) through the configured auth manager.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

#: the UI's session cookie (Airflow's COOKIE_NAME_JWT_TOKEN)
COOKIE_NAME_JWT_TOKEN = "_token"  # noqa: S105 - a cookie name, not a secret


def request_token(scope: MutableMapping[str, Any]) -> str | None:
    """The bearer token of the request, else its session cookie; None without either."""
    cookie = None
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == COOKIE_NAME_JWT_TOKEN and val:
                    cookie = val
    return cookie


async def authenticated(scope: MutableMapping[str, Any]) -> bool:
    """True when the request's token names a user of this deployment's auth manager."""
    token = request_token(scope)
    if not token:
        return False
    # imported here: the plugin module is loaded by every Airflow process, this runs in the API server
    from airflow.api_fastapi.app import get_auth_manager

    try:
        await get_auth_manager().get_user_from_token(token)
    except Exception:  # noqa: BLE001 - expired, forged or malformed: Airflow answers it
        return False
    return True
