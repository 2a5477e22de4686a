"""The one jitter policy of the retries that stay custom."""

from __future__ import annotations

import random

from mediaflow.common.backoff import backoff_delays


def test_backoff_is_jittered_and_capped():
    delays = list(backoff_delays(6, base=1.0, cap=5.0, rng=random.Random(7)))
    assert len(delays) == 5
    assert all(0 <= d <= min(5.0, 2**n) for n, d in enumerate(delays))
    assert len(set(delays)) == 5  # jittered: no two retries wait the same


def test_one_attempt_means_no_retry():
    assert list(backoff_delays(1)) == []
