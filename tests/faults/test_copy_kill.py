"""SIGKILL a copy task of `s3_bulk_copy` in the middle of its multipart copies: Airflow retries
it, the retry resumes the uploads its killed attempt left open (copying only the missing parts),
and the run ends with every object copied and verified, no upload left open, and a report that
matches the bucket. About 90 to 120 s: starting the deployment and Airflow's 20 s retry delay
take most of it; the objects are just large enough for the kill to land mid-copy."""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from urllib.parse import unquote_plus

import pytest
from awscrt import checksums as crt

from tests.faults.test_scheduler_kill import poll

pytestmark = pytest.mark.faults

DAG_ID = "s3_bulk_copy"
MiB = 1024 * 1024
BIG = {f"reels/take-{i}.mxf": 96 * MiB + i for i in range(3)}  # 20 parts of 5 MiB each
SMALL = {f"stills/frame-{i}.jpg": 1000 + i for i in range(5)}


def open_parts(s3, bucket: str) -> dict[str, int]:
    """Key -> parts of each upload open in the bucket."""
    found = {}
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        parts = s3.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", [])
        found[upload["Key"]] = len(parts)
    return found


def copy_ti(af, run_id: str) -> dict | None:
    tis = [t for t in af.task_instances(DAG_ID, run_id) if t["task_id"] == "copy"]
    return tis[0] if tis else None


def test_a_killed_copy_task_is_resumed_and_leaves_nothing_open(made_up):
    from include.local_stack.processes import family

    began = time.monotonic()
    made_up.cli("up")
    af, stack = made_up.airflow(), made_up.stack()
    s3 = stack.boto3_client("s3")
    src, dst, work = "faults-copy-src", "faults-copy-dst", "faults-copy-work"
    for bucket in (src, dst, work):
        s3.create_bucket(Bucket=bucket)
    bodies = {key: os.urandom(size) for key, size in {**BIG, **SMALL}.items()}
    for key, body in bodies.items():
        s3.put_object(Bucket=src, Key=key, Body=body, ChecksumAlgorithm="CRC64NVME")
    conf = {
        "source_bucket": src,
        # the deployment's form defaults name the demo tree: this test says everything
        "source_prefix": "",
        "destination_prefix": "",
        "destination_bucket": dst,
        "report_bucket": work,
        "report_prefix": "reports",
        "multipart_threshold": 5 * MiB,
    }
    run_id = af.trigger(DAG_ID, conf)

    ti = poll(lambda: copy_ti(af, run_id), lambda t: t is not None and t["state"] == "running" and t["pid"], 240)
    deployment = {p.pid for p in family(made_up.recorded())}
    assert ti["pid"] in deployment, "the task process is one the deployment started"
    # the kill lands as soon as the copy task has a few parts of an upload done
    deadline = time.monotonic() + 120
    at_kill = open_parts(s3, dst)
    while not any(n >= 3 for n in at_kill.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
        at_kill = open_parts(s3, dst)
    assert copy_ti(af, run_id)["state"] == "running", "the copy finished before the kill could land"
    os.kill(ti["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    left_by_kill = open_parts(s3, dst)
    assert left_by_kill, "the killed attempt left its uploads open"

    assert poll(lambda: af.run_state(DAG_ID, run_id), lambda s: s in ("success", "failed"), timeout=300) == "success"
    finished_after = time.monotonic() - killed_at
    ti = copy_ti(af, run_id)
    assert ti["try_number"] == 2, ti

    # nothing left open, every object there with the source's size and CRC64NVME
    assert s3.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    for key, body in bodies.items():
        head = s3.head_object(Bucket=dst, Key=key, ChecksumMode="ENABLED")
        assert head["ContentLength"] == len(body), key
        assert head["ChecksumCRC64NVME"] == _crc64(body), key
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=dst).get("Contents", [])}
    assert listed == set(bodies)

    # the report matches the bucket, says how each object was verified, and shows the resume
    prefix = next(
        o["Key"].rsplit("/", 1)[0]
        for o in s3.list_objects_v2(Bucket=work, Prefix="reports/").get("Contents", [])
        if o["Key"].endswith("/report.csv")
    )
    report = s3.get_object(Bucket=work, Key=f"{prefix}/report.csv")["Body"].read().decode()
    rows = {unquote_plus(r[1]): r for r in csv.reader(io.StringIO(report))}
    assert set(rows) == set(bodies)
    assert all(r[3] == "succeeded" for r in rows.values()), report
    # an object the killed attempt finished is skipped by the retry; every other one is copied and
    # verified: a large one by the source's CRC64NVME, a small one by the MD5 S3 computed for the copy
    done = ("skipped: destination already up to date",)
    assert all(rows[k][6].endswith(("verified by checksum:CRC64NVME", *done)) for k in BIG), report
    assert all(rows[k][6].endswith(("verified by etag", *done)) for k in SMALL), report
    summary = s3.get_object(Bucket=work, Key=f"{prefix}/summary.json")["Body"].read().decode()
    assert '"aborted_uploads": []' in summary, summary
    kept = {k: int(m.split("(")[1].split(" kept")[0]) for k in BIG if "kept from an earlier" in (m := rows[k][6])}
    # every part the killed attempt had finished is kept, none copied again; an upload that had
    # all its parts may have had its CompleteMultipartUpload on the wire when the kill landed:
    # S3 then finishes it, and the retry finds the object whole and skips it
    whole = {k for k, n in left_by_kill.items() if n == 20 and rows[k][6].startswith("skipped")}
    assert all(kept.get(k, 0) >= n for k, n in left_by_kill.items() if k not in whole), (left_by_kill, kept)
    copied_again = sum(0 if rows[k][6].startswith("skipped") else 20 - kept.get(k, 0) for k in BIG)
    assert copied_again < 20 * len(BIG), (copied_again, kept)
    resumed = kept
    print(
        f"\ncopy task SIGKILL: {len(left_by_kill)} upload(s) open at the kill with {sum(left_by_kill.values())} parts "
        f"({left_by_kill}; {at_kill} when the kill was decided); run `success` {finished_after:.0f} s after the "
        f"kill, copy on try {ti['try_number']}; resumed {len(resumed)} upload(s), kept {kept} of 20 parts each, "
        f"the retry copied {copied_again} of {20 * len(BIG)} parts; "
        f"0 uploads open, {len(bodies)} objects with the source's CRC64NVME; test took {time.monotonic() - began:.0f} s"
    )


def _crc64(data: bytes) -> str:
    import base64

    return base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode()
