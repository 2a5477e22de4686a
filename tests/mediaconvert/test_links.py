"""The MediaConvert Job link: the AWS console for AWS's endpoints, the service's own job
otherwise (the local MediaConvert service answers GET /2017-08-29/jobs/<id> with the job)."""

from __future__ import annotations

import pytest

from mediaflow.mediaconvert.links import MediaConvertJobLink, service_job_url

CONSOLE = "https://console.aws.amazon.com/mediaconvert/home?region=eu-west-1#/jobs/summary/1700000000000-abc123"


def _link(endpoint_url):
    return MediaConvertJobLink().format_link(
        job_id="1700000000000-abc123", region_name="eu-west-1", aws_domain="aws.amazon.com", endpoint_url=endpoint_url
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "",
        "https://mediaconvert.eu-west-1.amazonaws.com",
        "https://abcd1234.mediaconvert.eu-west-1.amazonaws.com",  # an account endpoint (DescribeEndpoints)
        "https://vpce-0a1b-c2d3.mediaconvert.eu-west-1.vpce.amazonaws.com",
        "https://mediaconvert.cn-north-1.amazonaws.com.cn",
    ],
)
def test_aws_endpoints_open_the_console(endpoint):
    assert _link(endpoint) == CONSOLE


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/2017-08-29/jobs/1700000000000-abc123"),
        ("http://localhost:8081/", "http://localhost:8081/2017-08-29/jobs/1700000000000-abc123"),
        ("http://mediaconvert:8081", "http://mediaconvert:8081/2017-08-29/jobs/1700000000000-abc123"),
    ],
)
def test_other_endpoints_open_the_job_on_that_service(endpoint, url):
    assert _link(endpoint) == url


def test_no_job_no_link():
    assert MediaConvertJobLink().format_link(job_id=None, endpoint_url="http://127.0.0.1:8081") == ""
    assert service_job_url("http://127.0.0.1:1", "a/b") == "http://127.0.0.1:1/2017-08-29/jobs/a%2Fb"
