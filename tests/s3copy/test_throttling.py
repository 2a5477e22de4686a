"""The copy engine under S3 throttling, with the retry settings the copy task runs with.

A throttling front (bench/throttle.py) stands between the engine and moto server: it answers
SlowDown to requests above a rate, as S3 does to a prefix asked for too much, and to the first
request of each kind the engine sends, so every kind of request is retried at least once. Every
object must arrive whole, with the source's ETag, and no multipart upload may stay open."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

from bench.throttle import FirstN, RateCap, ThrottleFront
from mediaflow.s3copy.engine import COPIED, CopyOptions, composite_etag, copy_payload
from mediaflow.s3copy.planning import CopyItem
from tests.s3copy.test_engine import engine_client

MiB = 1024 * 1024
#: every kind of request the engine sends, each answered SlowDown once (a HEAD gets a bodiless 503)
STEPS = (
    "HeadObject",
    "CopyObject",
    "GetObjectTagging",
    "CreateMultipartUpload",
    "UploadPartCopy",
    "CompleteMultipartUpload",
)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_every_object_is_copied_whole_under_slowdown(local_stack, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    small = {f"clips/{i:03d}.bin": f"clip {i} ".encode() * (i + 1) for i in range(100)}
    large = {f"reels/{i}.mxf": bytes([i]) * (11 * MiB + i) for i in range(2)}
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=src, Key=kv[0], Body=kv[1]), {**small, **large}.items()))
    items = [
        CopyItem(src, key, None, len(body), _md5(body) if key in small else _etag(s3, src, key), dst, key)
        for key, body in {**small, **large}.items()
    ]
    policies = [FirstN(1, step) for step in STEPS] + [RateCap(rate=40, burst=5)]
    with ThrottleFront(local_stack.aws_endpoint, policies) as front:
        client = engine_client(front.endpoint, threads=32)
        results = copy_payload(client, items, CopyOptions(multipart_threshold=5 * MiB), threads=32)
        stats = front.stats()

    assert sorted(r.status for r in results) == [COPIED] * len(items), [r for r in results if r.status != COPIED]
    for step in STEPS:
        assert any(k.startswith(step + " ") for k in stats["answered_by_operation"]), (step, stats)
    for key, body in small.items():
        got = s3.get_object(Bucket=dst, Key=key)
        assert got["Body"].read() == body, key
        assert got["ETag"].strip('"') == _md5(body), key
    for key, body in large.items():
        got = s3.get_object(Bucket=dst, Key=key)
        assert got["Body"].read() == body, key
        parts = [_md5(body[i : i + 5 * MiB]) for i in range(0, len(body), 5 * MiB)]
        assert got["ETag"].strip('"') == composite_etag(parts), key
    assert s3.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def _etag(s3, bucket: str, key: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
