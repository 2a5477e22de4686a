"""The copy engine on its own, against moto server over HTTP, with faults injected into a real
botocore client through its event hooks (the request never reaches the server), or answered
over HTTP by a throttling front (bench/throttle.py), so that botocore's own retries see them."""

from __future__ import annotations

import hashlib

import boto3
import pytest
from botocore.exceptions import ClientError

from bench.throttle import FirstN, ThrottleFront
from mediaflow.s3copy.engine import (
    COPIED,
    FAILED,
    SKIPPED,
    CopyEngine,
    CopyOptions,
    composite_etag,
    copy_payload,
    shared_client_config,
)
from mediaflow.s3copy.planning import CopyItem

MiB = 1024 * 1024


def engine_client(endpoint: str, threads: int = 8):
    """An S3 client configured as the copy task's (pool size and botocore retries); credentials
    and region come from the test environment."""
    return boto3.client("s3", endpoint_url=endpoint, config=shared_client_config(threads))


@pytest.fixture
def client(local_stack):
    return engine_client(local_stack.aws_endpoint)


def _item(s3, bucket: str, key: str, dest_bucket: str, dest_key: str | None = None) -> CopyItem:
    head = s3.head_object(Bucket=bucket, Key=key)
    return CopyItem(bucket, key, None, head["ContentLength"], head["ETag"].strip('"'), dest_bucket, dest_key or key)


def _fail_on(client, operation: str, *, code: str, when) -> list[dict]:
    """Make `operation` raise `code` for the calls where `when(params)` is true."""
    seen: list[dict] = []

    def hook(params, **_):
        seen.append(params)
        if when(params):
            raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)

    client.meta.events.register(f"before-parameter-build.s3.{operation}", hook)
    return seen


def test_failure_mid_multipart_aborts_the_upload(client, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    client.put_object(Bucket=src, Key="big.bin", Body=b"z" * (16 * MiB))
    calls = _fail_on(client, "UploadPartCopy", code="AccessDenied", when=lambda p: p["PartNumber"] == 2)
    options = CopyOptions(multipart_threshold=5 * MiB)
    [result] = copy_payload(client, [_item(client, src, "big.bin", dst)], options, threads=4)
    assert result.status == FAILED
    assert result.error_code == "AccessDenied"
    assert "s3://" + src + "/big.bin" in result.message
    assert len(calls) >= 2
    assert client.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    assert "Contents" not in client.list_objects_v2(Bucket=dst)


def test_throttling_is_retried_then_succeeds(local_stack, s3, make_bucket):
    """Two SlowDown answers over HTTP: botocore retries them, the third CopyObject copies."""
    src, dst = make_bucket("src"), make_bucket("dst")
    s3.put_object(Bucket=src, Key="a.txt", Body=b"hello")
    with ThrottleFront(local_stack.aws_endpoint, [FirstN(2, "CopyObject")]) as front:
        client = engine_client(front.endpoint, 2)
        options = CopyOptions(multipart_threshold=5 * MiB)
        [result] = copy_payload(client, [_item(s3, src, "a.txt", dst)], options, threads=2)
        stats = front.stats()
    assert result.status == COPIED, result
    assert stats["requests_by_operation"]["CopyObject"] == 3
    assert stats["answered_by_operation"] == {"CopyObject SlowDown": 2}
    assert s3.get_object(Bucket=dst, Key="a.txt")["Body"].read() == b"hello"


def test_a_source_changed_since_planning_is_caught(client, make_bucket):
    """moto ignores CopySourceIfMatch; the engine compares ETags itself."""
    src, dst = make_bucket("src"), make_bucket("dst")
    client.put_object(Bucket=src, Key="small.txt", Body=b"planned")
    client.put_object(Bucket=src, Key="large.bin", Body=b"p" * (6 * MiB))
    items = [_item(client, src, "small.txt", dst), _item(client, src, "large.bin", dst)]
    client.put_object(Bucket=src, Key="small.txt", Body=b"changed!")
    client.put_object(Bucket=src, Key="large.bin", Body=b"c" * (6 * MiB))
    results = copy_payload(client, items, CopyOptions(multipart_threshold=5 * MiB), threads=4)
    assert [(r.key, r.status, r.error_code) for r in sorted(results)] == [
        ("large.bin", FAILED, "PreconditionFailed"),
        ("small.txt", FAILED, "PreconditionFailed"),
    ]
    assert all("source changed" in r.message for r in results)
    assert client.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def test_multipart_copy_is_byte_exact_and_skipped_when_up_to_date(client, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    body = bytes(range(256)) * (11 * MiB // 256) + b"tail"
    client.put_object(Bucket=src, Key="k/v.mov", Body=body)
    item = _item(client, src, "k/v.mov", dst, "out/v.mov")
    options = CopyOptions(multipart_threshold=5 * MiB)
    [first] = copy_payload(client, [item], options, threads=4)
    assert first.status == COPIED
    assert client.get_object(Bucket=dst, Key="out/v.mov")["Body"].read() == body
    etag = client.head_object(Bucket=dst, Key="out/v.mov")["ETag"].strip('"')
    # parts of 5 MiB (the threshold, above S3's minimum): S3's multipart ETag of those three
    chunks = [body[i : i + 5 * MiB] for i in range(0, len(body), 5 * MiB)]
    assert etag == composite_etag([hashlib.md5(c, usedforsecurity=False).hexdigest() for c in chunks])
    [second] = copy_payload(client, [item], options, threads=4)
    assert second.status == SKIPPED


def test_delete_source_only_after_a_verified_copy(client, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    client.put_object(Bucket=src, Key="move-me.txt", Body=b"m")
    client.put_object(Bucket=src, Key="stays.txt", Body=b"s")
    items = [_item(client, src, "move-me.txt", dst), _item(client, src, "stays.txt", dst)]
    _fail_on(client, "CopyObject", code="AccessDenied", when=lambda p: p["Key"] == "stays.txt")
    results = copy_payload(client, items, CopyOptions(delete_source=True), threads=2)
    assert {r.key: r.status for r in results} == {"move-me.txt": COPIED, "stays.txt": FAILED}
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=src)["Contents"]]
    assert keys == ["stays.txt"]


def test_completion_step_aborts_an_upload_with_a_missing_part(client, make_bucket):
    """Parts of a spread object are copied by several tasks; if one of them failed, the
    completion step aborts the upload and reports the object once, as failed."""
    src, dst = make_bucket("src"), make_bucket("dst")
    client.put_object(Bucket=src, Key="huge.mxf", Body=b"h" * (11 * MiB))
    item = _item(client, src, "huge.mxf", dst)
    engine = CopyEngine(client, CopyOptions(multipart_threshold=5 * MiB))
    upload_id = engine.start_upload(item)
    first = item._replace(upload_id=upload_id, part_size=5 * MiB, first_part=1, last_part=2)
    assert {r.status for r in copy_payload(client, [first], engine.options)} == {"parts-copied"}
    result = engine.complete_spread_upload(item, upload_id, 3)
    assert (result.status, result.error_code) == (FAILED, "IncompleteUpload")
    assert "first missing: 3" in result.message
    assert client.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []

    upload_id = engine.start_upload(item)
    whole = item._replace(upload_id=upload_id, part_size=5 * MiB, first_part=1, last_part=3)
    copy_payload(client, [whole], engine.options)
    result = engine.complete_spread_upload(item, upload_id, 3)
    assert result.status == COPIED, result
    assert client.get_object(Bucket=dst, Key="huge.mxf")["Body"].read() == b"h" * (11 * MiB)
    # the step runs again (a retried task): the upload is gone, the copy is verified instead
    again = engine.complete_spread_upload(item, upload_id, 3)
    assert again.status == COPIED, again


@pytest.mark.parametrize(
    ("source_etag", "options", "response", "comparable"),
    [
        ("a" * 32, {}, {}, True),
        ("a" * 32, {}, {"ServerSideEncryption": "AES256"}, True),
        ("a" * 32, {}, {"ServerSideEncryption": "aws:kms"}, False),  # the bucket's default is KMS
        ("a" * 32, {"sse_kms_key_id": "alias/media"}, {}, False),
        ("a" * 32 + "-3", {}, {}, False),  # a multipart source: the copy gets a new ETag
    ],
)
def test_copy_response_etag_verifies_only_when_it_is_an_md5(source_etag, options, response, comparable):
    engine = CopyEngine(None, CopyOptions(**options))
    item = CopyItem("src", "k", None, 10, source_etag, "dst", "k")
    assert engine._etag_is_md5(item, response) is comparable


def test_parts_in_flight_per_object_are_capped(client, make_bucket):
    """A 2-part cap holds even with 8 threads free, and the copy is still byte-exact."""
    import threading

    src, dst = make_bucket("src"), make_bucket("dst")
    body = bytes(range(256)) * (31 * MiB // 256)
    client.put_object(Bucket=src, Key="reel.mxf", Body=body)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def started(**_):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])

    def finished(**_):
        with lock:
            in_flight[0] -= 1

    client.meta.events.register("before-call.s3.UploadPartCopy", started)
    client.meta.events.register("after-call.s3.UploadPartCopy", finished)
    options = CopyOptions(multipart_threshold=5 * MiB, parts_in_flight=2)
    [result] = copy_payload(client, [_item(client, src, "reel.mxf", dst)], options, threads=8)
    assert result.status == COPIED
    # without the cap, 7 parts on 8 threads overlap far beyond 2
    assert 1 <= peak[0] <= 2, f"7 parts with 8 threads and a cap of 2: saw {peak[0]} in flight at once"
    assert client.get_object(Bucket=dst, Key="reel.mxf")["Body"].read() == body
