"""Submitting jobs to the local MediaConvert service and watching them, for the tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mediaflow.mediaconvert.jobs import SourceInfo, build_request, load_template, validate_request

ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"


def submit(
    mc, s3, bucket: str, key: str, body: Path, destination: str, *, size: tuple[int, int] = (320, 240),
    queue: str | None = None,
) -> str:  # fmt: skip
    """Upload `body` to s3://bucket/key and submit the bundled MP4 template for it; the job id."""
    s3.upload_file(str(body), bucket, key)
    request = build_request(
        load_template("mp4_renditions"), input_uri=f"s3://{bucket}/{key}", destination=destination, role_arn=ROLE,
        source=SourceInfo(*size, has_audio=True),
    )  # fmt: skip
    if queue:
        request["Queue"] = queue
    validate_request(request)
    return mc.create_job(**request)["Job"]["Id"]


def paused_queue(mc) -> tuple[str, Callable[[], None]]:
    """A new PAUSED queue and the call that makes it ACTIVE: a job submitted to it stays SUBMITTED
    until then, however fast this machine transcodes, so a test can look at a job that is
    certainly still running."""
    name = f"held-{uuid.uuid4().hex[:12]}"
    mc.create_queue(Name=name, Status="PAUSED")

    def release() -> None:
        mc.update_queue(Name=name, Status="ACTIVE")

    return name, release


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
