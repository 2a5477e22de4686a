"""MediaConvertJobSensor: wait for a MediaConvert job that something else submitted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException

from mediaflow.mediaconvert.hook import MediaConvertHook
from mediaflow.mediaconvert.jobs import TERMINAL_STATUSES
from mediaflow.mediaconvert.links import MediaConvertJobLink
from mediaflow.mediaconvert.trigger import MediaConvertJobTrigger


class MediaConvertJobSensor(BaseSensorOperator):
    """Succeed when job `job_id` is COMPLETE (returning its outputs, checked in S3); fail on
    ERROR or CANCELED with MediaConvert's error. Deferrable by default: after one look, the
    waiting happens in the triggerer."""

    template_fields: Sequence[str] = ("job_id",)
    operator_extra_links = (MediaConvertJobLink(),)

    def __init__(
        self,
        *,
        job_id: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        deferrable: bool = True,
        poll_interval: float = 10.0,
        max_poll_interval: float = 60.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        kwargs.setdefault("timeout", timedelta(hours=48).total_seconds())
        super().__init__(**kwargs)
        self.job_id = job_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    @property
    def hook(self) -> MediaConvertHook:
        return MediaConvertHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    def poke(self, context: Any) -> bool:
        job = self.hook.get_job(self.job_id)
        self.log.info("MediaConvert job %s is %s", self.job_id, job["Status"])
        return job["Status"] in TERMINAL_STATUSES

    def execute(self, context: Any) -> Any:
        hook = self.hook
        MediaConvertJobLink.persist(
            context=context,
            operator=self,
            region_name=hook.conn_region_name,
            aws_partition=hook.conn_partition,
            job_id=self.job_id,
        )
        if not self.deferrable:
            super().execute(context)
            return self._result()
        if self.poke(context):
            return self._result()
        self.defer(
            trigger=MediaConvertJobTrigger(
                self.job_id,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                poll_interval=self.poll_interval,
                max_poll_interval=self.max_poll_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if event.get("status") != "success":
            raise AirflowException(f"waiting for MediaConvert job {self.job_id} failed: {event.get('message')}")
        return self._result()

    def _result(self) -> dict[str, Any]:
        from mediaflow.mediaconvert.operators import completed_outputs

        return completed_outputs(self.hook.get_job(self.job_id), self.aws_conn_id)
