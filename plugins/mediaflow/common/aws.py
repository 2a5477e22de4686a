"""botocore client settings shared by every AWS call mediaflow makes.

Retrying is botocore's job: its retry modes know which codes are transient (throttling,
5xx, connection errors), honour the service's own backoff, and count attempts per call. The
mode and the attempt count are set here and nowhere else.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

#: botocore retry mode for every client mediaflow builds: "adaptive", measured against
#: "standard" with `python -m bench.throttle_modes` (docs/benchmarks.md, "Retry mode under
#: SlowDown"): the copy engine's 32 threads sharing one client copied 3,000 small and 8
#: multipart objects from SeaweedFS through a front answering 503 SlowDown (medians of 3 runs).
#:
#: - Above 25 requests/s (S3 throttles a prefix by its request rate): standard failed 2,618 of
#:   3,008 objects, adaptive none (47 SlowDowns, 150 s, about 85% of the allowed rate).
#: - Above 100 requests/s: neither failed; standard 45 s with 844 SlowDowns, adaptive 74 s
#:   with 47.
#: - Unthrottled: the same 48 s for both.
#: - A random 5% of requests throttled, whatever the rate: neither failed; standard 34 s,
#:   adaptive 318 s.
#:
#: Why: botocore gives each client one retry quota (500 tokens, 5 per retry, paid back on
#: success), and 32 threads drain it together; once it is gone, standard gives up at the first
#: SlowDown (in its median run above, 2,618 of 2,861 SlowDowns were final: one per failed
#: object). Adaptive draws on the same quota but also slows the whole client to the rate the
#: server accepts, so few requests are throttled and the quota holds. A failed object fails its
#: payload task, whose retry meets the same limit; a slower copy still finishes. The price is
#: the last case: adaptive cuts its rate at every SlowDown, also at one the rate did not cause.
RETRY_MODE = "adaptive"
#: attempts per call, the first included
MAX_ATTEMPTS = 10


def retry_settings() -> dict[str, Any]:
    # botocore's `max_attempts` counts retries only; `total_max_attempts` counts the first try too
    return {"mode": RETRY_MODE, "total_max_attempts": MAX_ATTEMPTS}


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
