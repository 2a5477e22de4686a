"""MediaConvertHook: a thin, connection-aware wrapper over the boto3 `mediaconvert` client.

The endpoint is the regional one botocore resolves (DescribeEndpoints is deprecated), or the
connection's `service_config.mediaconvert.endpoint_url`, which the local stack sets to the
local MediaConvert-compatible service. Waiting for a job is the `job_complete` waiter of
`waiters.json`, shared by the trigger, the operator's synchronous path and the sensor.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

from mediaflow.common.hooks import SharedRetries

#: the waiter in waiters.json: COMPLETE succeeds, ERROR and CANCELED fail
JOB_COMPLETE_WAITER = "job_complete"
#: what each look at a job logs, and what a failed wait's message carries (JMESPath on GetJob)
JOB_STATUS_QUERIES = ["Job.Status", "Job.CurrentPhase", "Job.JobPercentComplete", "Job.ErrorCode", "Job.ErrorMessage"]


def wait_messages(job_id: str) -> dict[str, str]:
    """The waiter's failure and status messages, the same for the synchronous and deferred waits."""
    return {"failure_message": f"MediaConvert job {job_id} failed", "status_message": f"MediaConvert job {job_id}"}


class MediaConvertHook(SharedRetries, AwsBaseHook):
    """Interact with AWS Elemental MediaConvert jobs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "mediaconvert"
        super().__init__(*args, **kwargs)

    @cached_property
    def waiter_path(self) -> Path:
        """mediaflow's own waiter model; the provider ships none for MediaConvert."""
        return Path(__file__).with_name("waiters.json")

    def create_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateJob; with the same ClientRequestToken MediaConvert returns the existing job."""
        return self.conn.create_job(**request)["Job"]

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self.conn.get_job(Id=job_id)["Job"]

    def cancel_job(self, job_id: str) -> None:
        self.conn.cancel_job(Id=job_id)

    def wait_for_job(self, job_id: str, *, waiter_delay: float, waiter_max_attempts: int) -> dict[str, Any]:
        """Block on the `job_complete` waiter and return the job once it has ended, COMPLETE,
        ERROR or CANCELED alike: the caller decides what each means, with the job's error at hand.

        Raises WaiterMaxAttemptsError when the job is still running after the last attempt."""
        try:
            wait(
                waiter=self.get_waiter(JOB_COMPLETE_WAITER),
                waiter_delay=waiter_delay,
                waiter_max_attempts=waiter_max_attempts,
                args={"Id": job_id},
                status_args=JOB_STATUS_QUERIES,
                **wait_messages(job_id),
            )
        except WaiterTerminalFailure as failure:
            return failure.last_response["Job"]
        return self.get_job(job_id)
