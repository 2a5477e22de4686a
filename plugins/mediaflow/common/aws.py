"""botocore client settings shared by every AWS call mediaflow makes.

Retrying is botocore's job: its retry modes know which codes are transient (throttling,
5xx, connection errors), honour the service's own backoff, and count attempts per call. The
mode and the attempt count are set here and nowhere else.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

#: botocore retry mode for every client mediaflow builds (see the module docstring)
RETRY_MODE = "standard"
#: attempts per call, the first included
MAX_ATTEMPTS = 10


def retry_settings() -> dict[str, Any]:
    return {"mode": RETRY_MODE, "max_attempts": MAX_ATTEMPTS}


def client_config(*, max_pool_connections: int | None = None, **kwargs: Any) -> Config:
    """A botocore Config with the shared retry settings; `max_pool_connections` sizes the pool
    for clients shared by several threads."""
    if max_pool_connections is not None:
        kwargs["max_pool_connections"] = max_pool_connections
    return Config(retries=retry_settings(), **kwargs)


def with_retries(connection_config: Config | None, **kwargs: Any) -> Config:
    """`client_config(**kwargs)` under what the connection's own botocore config sets: an option
    the deployment chose (its `config_kwargs`: retries, proxies, timeouts) wins over ours."""
    ours = client_config(**kwargs)
    return ours.merge(connection_config) if connection_config is not None else ours
