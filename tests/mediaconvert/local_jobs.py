"""Submitting jobs to the local MediaConvert service and watching them, for the tests."""

from __future__ import annotations

import time
from pathlib import Path

from mediaflow.mediaconvert.jobs import SourceInfo, build_request, load_template, validate_request

ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"


def submit(mc, s3, bucket: str, key: str, body: Path, destination: str, *, size: tuple[int, int] = (320, 240)) -> str:
    """Upload `body` to s3://bucket/key and submit the bundled MP4 template for it; the job id."""
    s3.upload_file(str(body), bucket, key)
    request = build_request(
        load_template("mp4_renditions"), input_uri=f"s3://{bucket}/{key}", destination=destination, role_arn=ROLE,
        source=SourceInfo(*size, has_audio=True),
    )  # fmt: skip
    validate_request(request)
    return mc.create_job(**request)["Job"]["Id"]


def wait_for_status(mc, job_id: str, statuses: set[str], timeout: float = 120) -> dict:
    """GetJob until the job's status is one of `statuses`; fails the test if it never gets there."""
    deadline = time.monotonic() + timeout
    job = mc.get_job(Id=job_id)["Job"]
    while job["Status"] not in statuses:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job['Status']}, never {sorted(statuses)}")
        time.sleep(0.2)
        job = mc.get_job(Id=job_id)["Job"]
    return job
