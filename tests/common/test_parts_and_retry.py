"""Part sizing, the retry settings every AWS client gets, and the backoff left for the modules
that still retry by hand. The retry settings are checked over HTTP: moto server behind a
throttling front (bench/throttle.py) that answers chosen requests with an S3 error."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from bench.throttle import Always, Answer, FirstN, ThrottleFront
from mediaflow.common.aws import MAX_ATTEMPTS, RETRY_MODE, client_config
from mediaflow.common.parts import GiB, MiB, TiB, choose_part_size, iter_parts, part_count, split_parts


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


def _client(endpoint: str):
    """An S3 client with the shared settings (credentials and region from the test environment)."""
    return boto3.client("s3", endpoint_url=endpoint, config=client_config())


def test_client_config_carries_the_one_retry_setting():
    assert client_config(max_pool_connections=7).retries == {"mode": RETRY_MODE, "total_max_attempts": MAX_ATTEMPTS}
    assert client_config(max_pool_connections=7).max_pool_connections == 7


def test_retry_retries_throttling_then_succeeds(local_stack, s3, make_bucket):
    bucket = make_bucket("retry")
    s3.put_object(Bucket=bucket, Key="k", Body=b"done")
    with ThrottleFront(local_stack.aws_endpoint, [FirstN(2, "GetObject")]) as front:
        resp = _client(front.endpoint).get_object(Bucket=bucket, Key="k")
        assert resp["Body"].read() == b"done"
        stats = front.stats()
    assert stats["requests_by_operation"]["GetObject"] == 3
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2  # two waits, then the answer


def test_retry_does_not_retry_client_mistakes(local_stack, s3, make_bucket):
    bucket = make_bucket("denied")
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    denied = Answer(403, "AccessDenied", "Access Denied")
    with ThrottleFront(local_stack.aws_endpoint, [Always("GetObject", denied)]) as front:
        with pytest.raises(ClientError) as raised:
            _client(front.endpoint).get_object(Bucket=bucket, Key="k")
        stats = front.stats()
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert stats["requests_by_operation"]["GetObject"] == 1
