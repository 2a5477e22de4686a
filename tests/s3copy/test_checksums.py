"""Copies proven by the full-object checksums S3 keeps.

What the local servers do (moto 5.2.5 with awscrt, SeaweedFS 4.48; see docs/reliability.md):
moto computes and stores the destination's CRC from the bytes on CopyObject and
CompleteMultipartUpload and shows it on HeadObject, but returns no part CRC and accepts any
checksum it is given; SeaweedFS returns each part's CRC64NVME on UploadPartCopy and refuses
(BadDigest) a CompleteMultipartUpload whose full-object or part checksums do not match the
bytes, but ignores `ChecksumAlgorithm` on CopyObject. So: what moto cannot check, the tests
check in the requests (captured from a real client on their way out) against values they
compute themselves; what SeaweedFS checks, they check against SeaweedFS.
"""

from __future__ import annotations

import base64
import os

import boto3
import pytest
from awscrt import checksums as crt
from botocore.config import Config

from mediaflow.s3copy.checksums import combine, to_b64
from mediaflow.s3copy.engine import COPIED, FAILED, CopyOptions, copy_payload
from mediaflow.s3copy.report import ReportWriter
from tests.s3copy.test_engine import _item, engine_client

MiB = 1024 * 1024
OPTIONS = CopyOptions(multipart_threshold=5 * MiB)


def crc64(data: bytes) -> str:
    return base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode()


def captured(client, *operations: str) -> list[tuple[str, dict]]:
    """Every request of `operations` the client sends, with its parameters as sent."""
    seen: list[tuple[str, dict]] = []
    for op in operations:
        client.meta.events.register(
            f"before-parameter-build.s3.{op}", lambda params, op=op, **_: seen.append((op, dict(params)))
        )
    return seen


def _body(size: int) -> bytes:
    """Bytes whose 5 MiB parts all differ, so a part copied from the wrong range shows."""
    return b"".join(bytes([i]) * MiB for i in range(size // MiB)) + b"tail"


@pytest.mark.parametrize(
    ("algorithm", "crc"),
    [("CRC64NVME", crt.crc64nvme), ("CRC32", crt.crc32), ("CRC32C", crt.crc32c)],
)
def test_combined_part_crcs_are_the_crc_of_the_whole(algorithm, crc):
    data = os.urandom(3 * 65536 + 17)
    cuts = [0, 1, 65536, 65537, 2 * 65536 + 5, len(data)]
    parts = [(to_b64(crc(data[a:b]), algorithm), b - a) for a, b in zip(cuts, cuts[1:], strict=False)]
    assert combine(parts, algorithm) == to_b64(crc(data), algorithm)


@pytest.fixture
def client(local_stack):
    return engine_client(local_stack.aws_endpoint)


def test_every_copy_asks_for_the_full_object_checksum_and_is_verified_by_it(client, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    small, large = b"small object", _body(12 * MiB)
    client.put_object(Bucket=src, Key="a.txt", Body=small, ChecksumAlgorithm="CRC64NVME")
    client.put_object(Bucket=src, Key="b.mov", Body=large, ChecksumAlgorithm="CRC64NVME")
    client.put_object(Bucket=src, Key="c.txt", Body=b"crc32 by default")  # botocore's default: CRC32
    # a source uploaded in parts (its ETag is no MD5) under the multipart threshold of this copy
    parts = client.create_multipart_upload(
        Bucket=src, Key="d.bin", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    done = client.upload_part(Bucket=src, Key="d.bin", UploadId=parts["UploadId"], PartNumber=1, Body=b"d" * 1000)
    client.complete_multipart_upload(
        Bucket=src,
        Key="d.bin",
        UploadId=parts["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": done["ETag"]}]},
    )
    items = [_item(client, src, k, dst) for k in ("a.txt", "b.mov", "c.txt", "d.bin")]
    sent = captured(client, "CopyObject", "CreateMultipartUpload", "UploadPartCopy", "CompleteMultipartUpload")

    results = {r.key: r for r in copy_payload(client, items, OPTIONS, threads=4)}

    assert {k: (r.status, r.verified) for k, r in results.items()} == {
        # one request: the copy's MD5, computed by S3 from the bytes it wrote, is the planned source's
        "a.txt": (COPIED, "etag"),
        "b.mov": (COPIED, "checksum:CRC64NVME"),
        "c.txt": (COPIED, "etag"),
        "d.bin": (COPIED, "checksum:CRC32"),  # the source's algorithm, so the two compare
    }
    copies = {p["Key"]: p for op, p in sent if op == "CopyObject"}
    assert {k: p["ChecksumAlgorithm"] for k, p in copies.items()} == {
        "a.txt": "CRC64NVME",
        "c.txt": "CRC64NVME",
        "d.bin": "CRC32",
    }
    assert client.head_object(Bucket=dst, Key="a.txt", ChecksumMode="ENABLED")["ChecksumCRC64NVME"] == crc64(small)
    [create] = [p for op, p in sent if op == "CreateMultipartUpload"]
    assert (create["ChecksumAlgorithm"], create["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
    assert sum(op == "UploadPartCopy" for op, _ in sent) == 3
    [complete] = [p for op, p in sent if op == "CompleteMultipartUpload"]
    # the source's stored value, computed here from the bytes: S3 refuses parts that do not add up to it
    assert complete["ChecksumCRC64NVME"] == crc64(large)
    assert complete["ChecksumType"] == "FULL_OBJECT"
    head = client.head_object(Bucket=dst, Key="b.mov", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == crc64(large)

    writer = ReportWriter()
    writer.add_all(results.values())
    rows = writer.out.getvalue().splitlines()
    assert all(
        row.endswith(("verified by checksum:CRC64NVME", "verified by checksum:CRC32", "by etag")) for row in rows
    )
    assert writer.summary(1.0)["verified"] == {"checksum:CRC32": 1, "checksum:CRC64NVME": 1, "etag": 2}


def test_a_source_without_a_stored_checksum_is_verified_by_etag(local_stack, client, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    bare = boto3.client(
        "s3", endpoint_url=local_stack.aws_endpoint, config=Config(request_checksum_calculation="when_required")
    )
    bare.put_object(Bucket=src, Key="old.txt", Body=b"written before S3 kept checksums")
    assert "ChecksumCRC64NVME" not in client.head_object(Bucket=src, Key="old.txt", ChecksumMode="ENABLED")
    [result] = copy_payload(client, [_item(client, src, "old.txt", dst)], OPTIONS)
    assert (result.status, result.verified) == (COPIED, "etag")
    # the destination still got a checksum of its own, for whoever reads it later
    assert client.head_object(Bucket=dst, Key="old.txt", ChecksumMode="ENABLED").get("ChecksumCRC64NVME")


def test_a_part_copied_from_the_wrong_range_is_caught(client, make_bucket):
    """Behind the engine's back, part 2 is copied from part 1's bytes (same size): the ETags
    of the parts look fine, the destination's stored CRC64NVME is not the source's."""
    src, dst = make_bucket("src"), make_bucket("dst")
    body = _body(12 * MiB)
    client.put_object(Bucket=src, Key="reel.mxf", Body=body, ChecksumAlgorithm="CRC64NVME")

    def wrong_range(params, **_):
        if params["PartNumber"] == 2:
            params["CopySourceRange"] = f"bytes=0-{5 * MiB - 1}"

    client.meta.events.register("before-parameter-build.s3.UploadPartCopy", wrong_range)
    [result] = copy_payload(client, [_item(client, src, "reel.mxf", dst)], OPTIONS, threads=4)
    assert (result.status, result.error_code) == (FAILED, "VerifyFailed"), result
    assert "CRC64NVME" in result.message and "reel.mxf" in result.message
    assert client.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    # the bad copy is gone: a re-run's skip check (size and part count) would take it for a good one
    assert "Contents" not in client.list_objects_v2(Bucket=dst)


def test_a_small_copy_of_other_bytes_is_caught(client, make_bucket):
    """CopyObject answers with the checksum of what it wrote: here another object of the same
    size, swapped in behind the engine's back."""
    src, dst = make_bucket("src"), make_bucket("dst")
    client.put_object(Bucket=src, Key="good.txt", Body=b"good bytes", ChecksumAlgorithm="CRC64NVME")
    client.put_object(Bucket=src, Key="evil.txt", Body=b"evil bytes", ChecksumAlgorithm="CRC64NVME")

    def swap(params, **_):
        params["CopySource"] = f"{src}/evil.txt"  # botocore already turned the dict into this form
        params.pop("CopySourceIfMatch", None)

    client.meta.events.register("before-parameter-build.s3.CopyObject", swap)
    [result] = copy_payload(client, [_item(client, src, "good.txt", dst)], OPTIONS)
    assert (result.status, result.error_code) == (FAILED, "VerifyFailed"), result
    assert "Contents" not in client.list_objects_v2(Bucket=dst)


def test_seaweedfs_refuses_parts_that_do_not_add_up_and_the_engine_catches_them_first(seaweedfs_client):
    """SeaweedFS checks what S3 checks: the engine's copy passes, a wrong full-object CRC64NVME
    is refused by the server, and a part from the wrong range is caught by the engine from the
    part CRCs the server returned, before it asks to complete."""
    s3 = seaweedfs_client
    for bucket in ("src", "dst"):
        s3.create_bucket(Bucket=bucket)
    body = _body(12 * MiB)
    s3.put_object(Bucket="src", Key="reel.mxf", Body=body, ChecksumAlgorithm="CRC64NVME")
    item = _item(s3, "src", "reel.mxf", "dst")
    sent = captured(s3, "CompleteMultipartUpload")

    [ok] = copy_payload(s3, [item], OPTIONS, threads=2)
    assert (ok.status, ok.verified) == (COPIED, "checksum:CRC64NVME"), ok
    assert [p["ChecksumCRC64NVME"] for _, p in sent] == [crc64(body)]
    # the part CRCs SeaweedFS returned went back with the parts, for the server to check
    assert [p.get("ChecksumCRC64NVME") for p in sent[0][1]["MultipartUpload"]["Parts"]] == [
        crc64(body[: 5 * MiB]),
        crc64(body[5 * MiB : 10 * MiB]),
        crc64(body[10 * MiB :]),
    ]

    upload = s3.create_multipart_upload(
        Bucket="dst", Key="x", ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )
    part = s3.upload_part_copy(
        Bucket="dst",
        Key="x",
        UploadId=upload["UploadId"],
        PartNumber=1,
        CopySource={"Bucket": "src", "Key": "reel.mxf"},
        CopySourceRange="bytes=0-99",
    )
    with pytest.raises(s3.exceptions.ClientError, match="BadDigest"):
        s3.complete_multipart_upload(
            Bucket="dst",
            Key="x",
            UploadId=upload["UploadId"],
            ChecksumType="FULL_OBJECT",
            ChecksumCRC64NVME=crc64(body[:99]),  # one byte short of what the part holds
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
        )
    s3.abort_multipart_upload(Bucket="dst", Key="x", UploadId=upload["UploadId"])

    def wrong_range(params, **_):
        if params["PartNumber"] == 2:
            params["CopySourceRange"] = f"bytes=0-{5 * MiB - 1}"

    s3.meta.events.register("before-parameter-build.s3.UploadPartCopy", wrong_range)
    [bad] = copy_payload(s3, [item._replace(dest_key="bad.mxf")], OPTIONS, threads=2)
    assert (bad.status, bad.error_code) == (FAILED, "VerifyFailed"), bad
    assert "combine to" in bad.message
    assert s3.list_multipart_uploads(Bucket="dst").get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket="dst", Prefix="bad.mxf")
