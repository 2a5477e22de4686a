"""Operator extra link: the MediaConvert job, in the AWS console or on the service that ran it.

A job of the local MediaConvert service (or any MediaConvert-compatible endpoint that is not
AWS's) does not exist in the console; the link then opens the job as that service's own GetJob
answers it (`GET <endpoint>/2017-08-29/jobs/<id>`, JSON)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

#: hosts of AWS's own endpoints (regional, FIPS, VPC interface endpoints, China, dual-stack)
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
API_VERSION_PATH = "/2017-08-29"


def service_job_url(endpoint_url: str | None, job_id: str) -> str | None:
    """The job's URL on a MediaConvert endpoint that is not AWS's; None for AWS (or no endpoint)."""
    if not endpoint_url:
        return None
    host = (urlsplit(endpoint_url).hostname or "").lower()
    if not host or host.endswith(AWS_HOST_SUFFIXES):
        return None
    return f"{endpoint_url.rstrip('/')}{API_VERSION_PATH}/jobs/{quote(job_id, safe='')}"


class MediaConvertJobLink(BaseAwsLink):
    """Opens the job's summary page; stored per task instance once the job exists."""

    name = "MediaConvert Job"
    key = "_mediaconvert_job"
    format_str = BASE_AWS_CONSOLE_LINK + "/mediaconvert/home?region={region_name}#/jobs/summary/{job_id}"

    def format_link(self, *, job_id: str | None = None, endpoint_url: str | None = None, **kwargs) -> str:
        if not job_id:
            return ""
        return service_job_url(endpoint_url, job_id) or super().format_link(job_id=job_id, **kwargs)

    @classmethod
    def persist_job(cls, context: Any, operator: Any, hook: Any, job_id: str) -> None:
        """Store the link of `job_id`, submitted through `hook` (a MediaConvertHook)."""
        cls.persist(
            context=context,
            operator=operator,
            region_name=hook.conn_region_name,
            aws_partition=hook.conn_partition,
            job_id=job_id,
            endpoint_url=hook.conn_config.get_service_endpoint_url("mediaconvert"),
        )
