"""The HTTP-to-S3 engine on its own, against the Frame.io stand-in and moto server over HTTP:
what it retries (5xx through urllib3, short reads and expired URLs itself), the error texts,
and the cleanup that the DAG tests only see as a failed task."""

from __future__ import annotations

import pytest
import requests
import xxhash

from mediaflow.frameio.client import FrameioClient
from mediaflow.frameio.http_to_s3 import (
    ChecksumMismatch,
    HttpToS3,
    SizeMismatch,
    TransferConfig,
    TransferError,
    TransferSpec,
    UrlExpired,
)
from tests.frameio import test_frameio_backup_dag as test_frameio_backup
from tests.frameio.test_frameio_backup_dag import faults, stats

standin = test_frameio_backup.standin
MiB = 1024 * 1024
CONFIG = TransferConfig(multipart_threshold=5 * MiB, part_size=5 * MiB, max_concurrency=3, backoff_factor=0.05)


@pytest.fixture
def file_on_standin(local_stack, standin):
    def make(size: int, **flags) -> tuple[str, str, FrameioClient]:
        seeded = requests.post(
            f"{standin}/_control/seed", json={"tree": [{"name": "f.bin", "size": size, **flags}]}, timeout=30
        ).json()
        client = FrameioClient(base_url=standin, api_version="v2", token=local_stack.frameio_token)
        asset_id = seeded["assets"][0]["id"]
        return asset_id, client.download_url(asset_id), client

    return make


def uploads(s3, bucket: str) -> list:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


@pytest.mark.parametrize("size", [4000, 11 * MiB])
def test_checksum_mismatch_names_the_object_and_writes_nothing(s3, make_bucket, file_on_standin, size):
    bucket = make_bucket("eng")
    _, url, _ = file_on_standin(size)
    engine = HttpToS3(s3, config=CONFIG)
    with pytest.raises(
        ChecksumMismatch, match=rf"s3://{bucket}/x.bin: xxh64 of the downloaded bytes .* Nothing was written"
    ):
        engine.transfer(TransferSpec(url=url, bucket=bucket, key="x.bin", size=size, xxh64="0123456789abcdef"))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert uploads(s3, bucket) == []


def test_size_mismatch_is_reported(s3, make_bucket, file_on_standin):
    bucket = make_bucket("eng")
    _, url, _ = file_on_standin(12 * MiB)
    with pytest.raises(SizeMismatch, match="y.bin: received 12582912 bytes, Frame.io says 13000000"):
        HttpToS3(s3, config=CONFIG).transfer(TransferSpec(url=url, bucket=bucket, key="y.bin", size=13_000_000))
    assert uploads(s3, bucket) == []


def test_expired_url_without_a_fresh_one_aborts_the_upload(s3, make_bucket, file_on_standin, standin):
    bucket = make_bucket("eng")
    _, url, _ = file_on_standin(16 * MiB)
    requests.post(f"{standin}/_control/faults", json={"url_max_uses": 1}, timeout=5)
    spec = TransferSpec(url=url, bucket=bucket, key="z.bin", size=16 * MiB, refresh_url=lambda: None)
    with pytest.raises(UrlExpired, match="download URL expired"):
        HttpToS3(s3, config=CONFIG).transfer(spec)
    assert uploads(s3, bucket) == []


def test_ranged_copy_refreshes_urls_and_matches_the_source(s3, make_bucket, file_on_standin, standin):
    bucket = make_bucket("eng")
    asset_id, url, client = file_on_standin(16 * MiB + 1, seed=5)
    requests.post(f"{standin}/_control/faults", json={"url_max_uses": 1}, timeout=5)
    spec = TransferSpec(
        url=url,
        bucket=bucket,
        key="ok.bin",
        size=16 * MiB + 1,
        xxh64=client.get_asset(asset_id).xxh64,
        refresh_url=lambda: client.download_url(asset_id),
    )
    result = HttpToS3(s3, config=CONFIG).transfer(spec)
    assert (result.mode, result.parts) == ("ranged", 4)
    assert result.url_refreshes >= 3
    body = s3.get_object(Bucket=bucket, Key="ok.bin")["Body"].read()
    assert xxhash.xxh64(body).hexdigest() == result.xxh64 == spec.xxh64


def seeded_spec(file_on_standin, bucket: str, key: str, size: int) -> tuple[str, TransferSpec]:
    asset_id, url, client = file_on_standin(size, seed=3)
    spec = TransferSpec(
        url=url,
        bucket=bucket,
        key=key,
        size=size,
        xxh64=client.get_asset(asset_id).xxh64,
        refresh_url=lambda: client.download_url(asset_id),
    )
    return asset_id, spec


def test_5xx_and_short_reads_on_parts_are_retried_and_the_bytes_match(s3, make_bucket, file_on_standin, standin):
    bucket = make_bucket("eng")
    asset_id, spec = seeded_spec(file_on_standin, bucket, "retried.bin", 16 * MiB)
    faults(
        standin,
        fail_ranges=[{"asset_id": asset_id, "start": 5 * MiB, "times": 2}],
        short_ranges=[{"asset_id": asset_id, "start": 10 * MiB, "times": 1}],
    )
    result = HttpToS3(s3, config=CONFIG).transfer(spec)
    counters = stats(standin)
    assert (counters["range_failures"], counters["short_reads"]) == (2, 1)
    assert counters["range_gets"] == 4  # every part served whole once
    assert result.part_retries == 3  # two by urllib3, one after the short read
    body = s3.get_object(Bucket=bucket, Key="retried.bin")["Body"].read()
    assert len(body) == 16 * MiB
    assert xxhash.xxh64(body).hexdigest() == spec.xxh64
    assert uploads(s3, bucket) == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [("fail_ranges", "answered HTTP 500 after 4 retries"), ("short_ranges", "giving up after 5 short reads")],
)
def test_a_part_that_keeps_failing_aborts_the_upload(s3, make_bucket, file_on_standin, standin, fault, message):
    bucket = make_bucket("eng")
    asset_id, spec = seeded_spec(file_on_standin, bucket, "broken.bin", 11 * MiB)
    faults(standin, **{fault: [{"asset_id": asset_id, "start": 5 * MiB, "times": 100}]})
    with pytest.raises(TransferError, match=rf"s3://{bucket}/broken.bin: .*{message}"):
        HttpToS3(s3, config=CONFIG).transfer(spec)
    counters = stats(standin)
    assert counters["range_failures" if fault == "fail_ranges" else "short_reads"] == CONFIG.part_attempts
    assert uploads(s3, bucket) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
