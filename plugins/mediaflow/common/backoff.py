"""The one jitter policy for the retries a library cannot do for us.

Transient HTTP and AWS errors are retried by urllib3's `Retry` and botocore's retry modes.
What is left (a short read in the middle of a ranged download, say) backs off with full
jitter: a uniform delay between 0 and an exponentially growing cap, so that parts or mapped
tasks that failed together do not all come back at the same moment.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


def backoff_delays(
    attempts: int, base: float = 1.0, cap: float = 30.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Delays before retries 1..attempts-1: full jitter over base * 2**n, capped."""
    rng = rng or random.Random()
    for n in range(attempts - 1):
        yield rng.uniform(0, min(cap, base * (2**n)))
