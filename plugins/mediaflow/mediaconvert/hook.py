"""MediaConvertHook: a thin, connection-aware wrapper over the boto3 `mediaconvert` client.

The endpoint is the regional one botocore resolves (DescribeEndpoints is deprecated), or the
connection's `service_config.mediaconvert.endpoint_url`, which the local stack sets to the
local MediaConvert-compatible service.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class MediaConvertHook(AwsBaseHook):
    """Interact with AWS Elemental MediaConvert (jobs and job templates)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "mediaconvert"
        super().__init__(*args, **kwargs)

    def create_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateJob; with the same ClientRequestToken MediaConvert returns the existing job."""
        return self.conn.create_job(**request)["Job"]

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self.conn.get_job(Id=job_id)["Job"]

    def cancel_job(self, job_id: str) -> None:
        self.conn.cancel_job(Id=job_id)

    def get_job_template(self, name: str) -> dict[str, Any]:
        return self.conn.get_job_template(Name=name)["JobTemplate"]

    async def get_job_async(self, job_id: str) -> dict[str, Any]:
        """GetJob through aiobotocore, for the trigger running in the triggerer's event loop."""
        async with await self.get_async_conn() as client:
            return (await client.get_job(Id=job_id))["Job"]
