"""Part sizing and retry backoff, the pure pieces the copy and upload engines share."""

from __future__ import annotations

import pytest

from mediaflow.common.parts import GiB, MiB, TiB, choose_part_size, iter_parts, part_count, split_parts
from mediaflow.common.retry import call_with_retry, is_transient


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, 64 * MiB),
        (1, 64 * MiB),
        (10_000 * 64 * MiB, 64 * MiB),
        (10_000 * 64 * MiB + 1, 128 * MiB),
        (5 * TiB, 1 * GiB),
        (39 * TiB, 4 * GiB),
        (40 * TiB, 5 * GiB),
    ],
)
def test_part_size_doubles_until_parts_fit(size, expected):
    part = choose_part_size(size)
    assert part == expected
    assert part_count(size, part) <= 10_000


def test_no_five_tib_cap_but_the_part_limit_is_enforced():
    assert part_count(45 * TiB, choose_part_size(45 * TiB)) <= 10_000
    with pytest.raises(ValueError, match="5 GiB part limit"):
        choose_part_size(60 * TiB)


def test_parts_cover_every_byte_once():
    size = 10 * MiB + 3
    parts = list(iter_parts(size, 4 * MiB))
    assert [p.number for p in parts] == [1, 2, 3]
    assert parts[0].http_range == f"bytes=0-{4 * MiB - 1}"
    assert parts[-1].end == size - 1
    assert sum(p.size for p in parts) == size
    assert all(a.end + 1 == b.start for a, b in zip(parts, parts[1:], strict=False))
    assert list(iter_parts(0, 4 * MiB)) == []


def test_split_parts_into_contiguous_groups():
    parts = list(iter_parts(10 * MiB, MiB))
    groups = split_parts(parts, 3)
    assert [len(g) for g in groups] == [4, 3, 3]
    assert [p for g in groups for p in g] == parts
    assert len(split_parts(parts[:2], 5)) == 2


class _ClientError(Exception):
    def __init__(self, code: str, status: int):
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


def test_retry_retries_throttling_then_succeeds():
    calls, slept = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _ClientError("SlowDown", 503)
        return "done"

    assert call_with_retry(flaky, sleep=slept.append) == "done"
    assert len(calls) == 3
    assert len(slept) == 2


def test_retry_does_not_retry_client_mistakes():
    calls = []

    def denied():
        calls.append(1)
        raise _ClientError("AccessDenied", 403)

    with pytest.raises(_ClientError):
        call_with_retry(denied, sleep=lambda _: None)
    assert len(calls) == 1
    assert is_transient(_ClientError("InternalError", 500))
    assert not is_transient(ValueError("x"))
