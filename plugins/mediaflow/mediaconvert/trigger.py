"""MediaConvertJobTrigger: waits for a MediaConvert job in the triggerer, not in a worker slot."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from mediaflow.common.retry import is_transient
from mediaflow.mediaconvert.jobs import TERMINAL_STATUSES


class MediaConvertJobTrigger(BaseTrigger):
    """Poll GetJob (aiobotocore) with growing, jittered intervals until the job ends.

    Fires one event: `status` "success" when the job reached a terminal state (COMPLETE, ERROR
    or CANCELED: the operator decides what each means), "error" when it could not be read.
    Throttling and 5xx answers are retried with backoff; anything else ends the wait.
    """

    def __init__(
        self,
        job_id: str,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        poll_interval: float = 10.0,
        max_poll_interval: float = 60.0,
        max_transient_errors: int = 10,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.max_transient_errors = max_transient_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "job_id": self.job_id,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "max_transient_errors": self.max_transient_errors,
            },
        )

    def hook(self):
        from mediaflow.mediaconvert.hook import MediaConvertHook

        return MediaConvertHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook()
        interval = self.poll_interval
        errors = 0
        last_percent = None
        while True:
            try:
                job = await hook.get_job_async(self.job_id)
            except Exception as exc:
                errors += 1
                if not is_transient(exc) or errors > self.max_transient_errors:
                    yield TriggerEvent({"status": "error", "job_id": self.job_id, "message": f"GetJob failed: {exc}"})
                    return
                self.log.warning("GetJob %s failed (%s), retrying", self.job_id, exc)
            else:
                errors = 0
                status = job.get("Status")
                if status in TERMINAL_STATUSES:
                    self.log.info("MediaConvert job %s: %s", self.job_id, status)
                    yield TriggerEvent(
                        {
                            "status": "success",
                            "job_id": self.job_id,
                            "job_status": status,
                            "error_code": job.get("ErrorCode"),
                            "error_message": job.get("ErrorMessage"),
                        }
                    )
                    return
                percent = job.get("JobPercentComplete")
                if percent != last_percent:
                    self.log.info(
                        "MediaConvert job %s: %s %s%%", self.job_id, status, percent if percent is not None else "-"
                    )
                    last_percent = percent
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))
            interval = min(self.max_poll_interval, interval * 1.5)
