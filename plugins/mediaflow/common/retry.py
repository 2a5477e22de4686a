"""What is left of the hand-written retrying: a jittered backoff and a transient-error test.

AWS calls are retried by botocore (see `mediaflow.common.aws`); nothing on the S3 path uses
this module. `backoff_delays` and `is_transient` stay only for the modules that still import
them (the Frame.io transfer and the MediaConvert trigger), until those move to their
libraries' retries too.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

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


def backoff_delays(
    attempts: int, base: float = 1.0, cap: float = 30.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Delays before retries 1..attempts-1: full jitter over base * 2**n, capped."""
    rng = rng or random.Random()
    for n in range(attempts - 1):
        yield rng.uniform(0, min(cap, base * (2**n)))


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
