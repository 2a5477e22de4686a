"""Uploads a killed attempt left open: the retry resumes them, and what nobody finished is
aborted by the run's sweep, never an upload of someone else. Against moto server over HTTP;
the killed attempt is played by the same calls the engine makes (start, journal, some parts)."""

from __future__ import annotations

import time

import pytest

from mediaflow.common.parts import choose_part_size, iter_parts
from mediaflow.s3copy.engine import COPIED, CopyEngine, CopyOptions, copy_payload
from mediaflow.s3copy.journal import ABORTED, COMPLETED, OPEN, UploadJournal, settle_uploads
from tests.s3copy.test_checksums import _body, crc64
from tests.s3copy.test_engine import _item, engine_client

MiB = 1024 * 1024
OPTIONS = CopyOptions(multipart_threshold=5 * MiB)


@pytest.fixture
def client(local_stack):
    return engine_client(local_stack.aws_endpoint)


def _killed_attempt(client, journal, item, copy_parts: list[int]):
    """What a copy task killed mid-upload leaves: an open upload, its journal entry, some parts."""
    engine = CopyEngine(client, OPTIONS, journal=journal)
    upload_id = engine.start_upload(item)
    part_size = choose_part_size(item.size, OPTIONS.part_size_floor)
    journal.started(item, upload_id, part_size)
    parts = list(iter_parts(item.size, part_size))
    for n in copy_parts:
        client.upload_part_copy(
            Bucket=item.dest_bucket,
            Key=item.dest_key,
            UploadId=upload_id,
            PartNumber=n,
            CopySource={"Bucket": item.bucket, "Key": item.key},
            CopySourceRange=parts[n - 1].http_range,
        )
    return upload_id, parts


def _count(client, operation: str) -> list[int]:
    numbers: list[int] = []
    client.meta.events.register(
        f"before-parameter-build.s3.{operation}", lambda params, **_: numbers.append(params.get("PartNumber", 0))
    )
    return numbers


def test_a_retry_copies_only_the_parts_its_killed_attempt_had_not(client, make_bucket):
    src, dst, work = make_bucket("src"), make_bucket("dst"), make_bucket("work")
    body = _body(26 * MiB)  # 6 parts of 5 MiB
    client.put_object(Bucket=src, Key="reel.mxf", Body=body, ChecksumAlgorithm="CRC64NVME")
    item = _item(client, src, "reel.mxf", dst)
    journal = UploadJournal(client, work, "run-1/")
    upload_id, parts = _killed_attempt(client, journal, item, [1, 2, 4])
    # a part the attempt was writing when it died: the wrong size, so it is copied again
    client.upload_part(Bucket=dst, Key="reel.mxf", UploadId=upload_id, PartNumber=5, Body=b"torn")
    assert len(parts) == 6

    copied = _count(client, "UploadPartCopy")
    creates = _count(client, "CreateMultipartUpload")
    [result] = copy_payload(client, [item], OPTIONS, threads=4, journal=journal)

    assert result.status == COPIED, result
    assert sorted(copied) == [3, 5, 6], "only the missing and the torn parts are copied again"
    assert creates == [], "the open upload is resumed, not started again"
    assert "3 kept from an earlier attempt, 3 copied now" in result.message
    assert result.verified == "checksum:CRC64NVME"
    head = client.head_object(Bucket=dst, Key="reel.mxf", ChecksumMode="ENABLED")
    assert (head["ContentLength"], head["ChecksumCRC64NVME"]) == (len(body), crc64(body))
    assert client.get_object(Bucket=dst, Key="reel.mxf")["Body"].read() == body
    assert client.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    assert [e.state for e in journal.entries()] == [COMPLETED]


def test_a_retry_does_not_resume_an_upload_of_another_source_version(client, make_bucket):
    """The source changed after the killed attempt: its upload is aborted, a new one copies."""
    src, dst, work = make_bucket("src"), make_bucket("dst"), make_bucket("work")
    client.put_object(Bucket=src, Key="v.mov", Body=_body(11 * MiB))
    journal = UploadJournal(client, work, "run-1/")
    old_id, _ = _killed_attempt(client, journal, _item(client, src, "v.mov", dst), [1])
    client.put_object(Bucket=src, Key="v.mov", Body=_body(11 * MiB)[::-1])
    copied = _count(client, "UploadPartCopy")
    [result] = copy_payload(client, [_item(client, src, "v.mov", dst)], OPTIONS, journal=journal)
    assert result.status == COPIED, result
    assert sorted(copied) == [1, 2, 3]
    states = {e.upload_id: e.state for e in journal.entries()}
    assert states[old_id] == ABORTED and sorted(states.values()) == [ABORTED, COMPLETED]
    assert client.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def test_the_sweep_aborts_this_runs_open_uploads_and_nothing_else(seaweedfs_client):
    """On SeaweedFS, which keeps each upload's start time (moto answers a fixed date)."""
    client = seaweedfs_client
    src, dst, work = "sweep-src", "sweep-dst", "sweep-work"
    for bucket in (src, dst, work):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=src, Key="a.mov", Body=_body(6 * MiB))
    foreign = client.create_multipart_upload(Bucket=dst, Key="b.mov")["UploadId"]  # before the run
    time.sleep(1.1)  # S3 keeps an upload's start to the second
    started_at = time.time() + 1  # the run begins after the foreign upload
    time.sleep(1.1)
    journal = UploadJournal(client, work, "run-1/")
    journalled, _ = _killed_attempt(client, journal, _item(client, src, "a.mov", dst), [1])
    # killed between CreateMultipartUpload and its journal entry
    unrecorded = client.create_multipart_upload(Bucket=dst, Key="b.mov")["UploadId"]
    # another writer's upload started during the run, on a key the run does not copy to
    during = client.create_multipart_upload(Bucket=dst, Key="not-planned.mov")["UploadId"]

    aborted = settle_uploads(
        client,
        journal,
        started_at=started_at,
        buckets=[dst],
        in_plan=lambda keys: keys & {(dst, "a.mov"), (dst, "b.mov")},
    )

    assert sorted((a.key, a.upload_id, a.parts) for a in aborted) == [
        ("a.mov", journalled, 1),
        ("b.mov", unrecorded, 0),
    ]
    left = {u["UploadId"] for u in client.list_multipart_uploads(Bucket=dst).get("Uploads", [])}
    assert left == {foreign, during}
    assert [e.state for e in journal.entries()] == [ABORTED]
    assert settle_uploads(client, journal, started_at=started_at, buckets=[dst]) == [], "a second sweep finds nothing"
    assert OPEN not in {e.state for e in journal.entries()}
