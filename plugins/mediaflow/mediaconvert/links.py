"""Operator extra link: the MediaConvert job in the AWS console."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class MediaConvertJobLink(BaseAwsLink):
    """Opens the job's summary page; stored per task instance once the job exists."""

    name = "MediaConvert Job"
    key = "_mediaconvert_job"
    format_str = BASE_AWS_CONSOLE_LINK + "/mediaconvert/home?region={region_name}#/jobs/summary/{job_id}"

    def format_link(self, *, job_id: str | None = None, **kwargs) -> str:
        if not job_id:
            return ""
        return super().format_link(job_id=job_id, **kwargs)
