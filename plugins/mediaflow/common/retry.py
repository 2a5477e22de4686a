"""Retry with exponential backoff and full jitter, for throttling and transient errors.

Shared by the S3 engines and the Frame.io client, so every caller backs off the same way and
tests can inject a clock instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from mediaflow.common.backoff import backoff_delays

T = TypeVar("T")

#: S3/botocore error codes that mean "try again", not "you asked for something wrong"
TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """True for throttling, 5xx and connection errors from botocore."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in TRANSIENT_S3_CODES or (isinstance(status, int) and status >= 500)
    name = type(exc).__name__
    return name in {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ConnectionError",
        "ProtocolError",
    }


def call_with_retry(
    fn: Callable[[], T],
    *,
    attempts: int = 6,
    base: float = 0.5,
    cap: float = 20.0,
    retryable: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """Call `fn`, retrying when `retryable(exc)`; the last error propagates unchanged."""
    delays = backoff_delays(attempts, base, cap)
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:
            delay = next(delays, None)
            if delay is None or not retryable(exc):
                raise
            if on_retry:
                on_retry(exc, attempt, delay)
            sleep(delay)
            attempt += 1
