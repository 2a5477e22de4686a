"""requests sessions that let urllib3 do the retrying, for the Frame.io API and the downloads.

urllib3's `Retry` mounted on the session retries what is transient on any HTTP call: 408, 429
and 5xx answers (waiting what `Retry-After` says, up to a minute; without a readable one,
backing off exponentially with jitter) and connection errors. When the attempts run out, the
last answer is returned instead of raised, so the caller can word the error and name the object.
"""

from __future__ import annotations

from collections.abc import Collection

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import RequestHistory, Retry

#: answers worth another try: a request timeout, throttling and server-side failures
RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})
#: the longest wait a `Retry-After` (or the backoff) may impose on one retry, in seconds
MAX_WAIT = 60


class LenientRetry(Retry):
    """urllib3's `Retry`, except that an unreadable `Retry-After` means "back off as usual"
    instead of failing the call (urllib3 raises `InvalidHeader` for it)."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None


def retry_policy(
    retries: int, backoff_factor: float, methods: Collection[str] = Retry.DEFAULT_ALLOWED_METHODS
) -> Retry:
    return LenientRetry(
        total=retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods),
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_factor,
        backoff_max=MAX_WAIT,
        retry_after_max=MAX_WAIT,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def mount_retries(session: requests.Session, retry: Retry, pool_size: int) -> requests.Session:
    """Mount `retry` on `session` for http and https, with a pool of `pool_size` connections
    per host (one per thread that shares the session)."""
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def retries_taken(resp: requests.Response) -> int:
    """How many times urllib3 retried before this answer (0 when it came at the first try)."""
    return len(_history(resp))


def retried_on(resp: requests.Response) -> str:
    """What the retries before this answer were for, e.g. "429 x6" or "500 x1, ConnectTimeoutError x2"."""
    causes = [str(h.status) if h.status else type(h.error).__name__ for h in _history(resp)]
    return ", ".join(f"{cause} x{causes.count(cause)}" for cause in dict.fromkeys(causes))


def _history(resp: requests.Response) -> tuple[RequestHistory, ...]:
    retry = getattr(resp.raw, "retries", None)
    return retry.history if retry is not None else ()
