"""MediaConvertJobTrigger: waits for a MediaConvert job in the triggerer, not in a worker slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import TriggerEvent
from botocore.exceptions import ClientError

from mediaflow.mediaconvert.hook import JOB_COMPLETE_WAITER, JOB_STATUS_QUERIES, MediaConvertHook, wait_messages


class MediaConvertJobTrigger(AwsBaseWaiterTrigger):
    """Wait for job `job_id` with the `job_complete` waiter, on one aiobotocore client for the
    whole wait; throttling and 5xx answers are retried by the waiter.

    Fires one event, `{"status", "job_id"}`: "success" when the job is COMPLETE, "error" (with a
    `message` carrying the job's status, error code and error message) when it ended ERROR or
    CANCELED, ran out of attempts, or could not be read.

    :param job_id: the MediaConvert job to wait for.
    :param cancel_on_kill: cancel the job when a user kills the deferred task (mark failed,
        clear, mark success). True for the task that submitted the job; False for a sensor
        watching a job that something else owns.
    :param waiter_delay: seconds between two looks at the job.
    :param waiter_max_attempts: how many looks before the wait gives up.
    :param aws_conn_id: the Airflow connection for AWS credentials and endpoints.
    :param region_name: the AWS region of the job (default: the connection's).
    """

    aws_hook_class = MediaConvertHook

    def __init__(
        self,
        *,
        job_id: str,
        cancel_on_kill: bool = False,
        waiter_delay: float = 30,
        waiter_max_attempts: int = 5760,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            serialized_fields={"job_id": job_id, "cancel_on_kill": cancel_on_kill},
            waiter_name=JOB_COMPLETE_WAITER,
            waiter_args={"Id": job_id},
            status_queries=JOB_STATUS_QUERIES,
            return_key="job_id",
            return_value=job_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            **wait_messages(job_id),
            **kwargs,
        )
        self.job_id = job_id
        self.cancel_on_kill = cancel_on_kill

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for event in super().run():
            # the waiter logs only the looks that found the job unfinished; say how it ended
            self.log.info("MediaConvert job %s: %s", self.job_id, event.payload.get("message") or "COMPLETE")
            yield event

    async def on_kill(self) -> None:
        """The user killed the deferred task: cancel its job so that it stops costing money."""
        if not self.cancel_on_kill:
            return
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            try:
                await client.cancel_job(Id=self.job_id)
            except ClientError as exc:  # e.g. the job ended meanwhile
                self.log.warning("could not cancel MediaConvert job %s: %s", self.job_id, exc)
                return
        self.log.info("canceled MediaConvert job %s: its task was killed", self.job_id)
