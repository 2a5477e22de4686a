"""MediaConvertJobSensor: wait for a MediaConvert job that something else submitted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.exceptions import WaiterMaxAttemptsError
from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf

from mediaflow.mediaconvert.hook import MediaConvertHook
from mediaflow.mediaconvert.links import MediaConvertJobLink
from mediaflow.mediaconvert.operators import DEFAULT_WAIT, attempts_for, completed_outputs, outputs_after_wait
from mediaflow.mediaconvert.trigger import MediaConvertJobTrigger


class MediaConvertJobSensor(BaseSensorOperator):
    """Succeed when job `job_id` is COMPLETE, returning its outputs (checked in S3); fail on
    ERROR or CANCELED with MediaConvert's error. Each poke is one look through the
    `job_complete` waiter; deferred, the waiting happens in the triggerer after one look.
    Killing the sensor leaves the job alone: it belongs to whatever submitted it.

    :param job_id: the MediaConvert job to wait for.
    :param aws_conn_id: the Airflow connection for AWS credentials and endpoints.
    :param region_name: the AWS region of the job (default: the connection's).
    :param deferrable: wait in the triggerer instead of a worker slot
        (default: `[operators] default_deferrable`); the trigger looks every `poke_interval`
        seconds until `timeout`.
    """

    template_fields: Sequence[str] = ("job_id", "aws_conn_id", "region_name")
    operator_extra_links = (MediaConvertJobLink(),)

    def __init__(
        self,
        *,
        job_id: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 30)
        kwargs.setdefault("timeout", DEFAULT_WAIT.total_seconds())
        super().__init__(**kwargs)
        self.job_id = job_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> MediaConvertHook:
        return MediaConvertHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    def poke(self, context: Context) -> PokeReturnValue:
        try:
            job = self.hook.wait_for_job(self.job_id, waiter_delay=self.poke_interval, waiter_max_attempts=1)
        except WaiterMaxAttemptsError:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=completed_outputs(job, self.aws_conn_id))

    def execute(self, context: Context) -> Any:
        MediaConvertJobLink.persist_job(context, self, self.hook, self.job_id)
        if not self.deferrable:
            return super().execute(context)
        first_look = self.poke(context)
        if first_look.is_done:
            return first_look.xcom_value
        self.defer(
            trigger=MediaConvertJobTrigger(
                job_id=self.job_id,
                waiter_delay=self.poke_interval,
                waiter_max_attempts=attempts_for(self.poke_interval, timedelta(seconds=self.timeout)),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return outputs_after_wait(self.hook, event, self.aws_conn_id)
