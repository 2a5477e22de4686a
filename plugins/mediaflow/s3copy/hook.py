"""A connection-aware S3 client sized for the bulk copy's thread pool."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from mediaflow.s3copy.engine import shared_client_config


class S3CopyHook(AwsBaseHook):
    """`AwsBaseHook` for S3 whose client has a connection for each of `threads` threads and
    botocore's retry settings from `mediaflow.common.aws`.

    One client is shared by every thread of a copy task: botocore clients are thread-safe, and
    creating one per object would cost more than the copy of a small object."""

    def __init__(self, *args: Any, threads: int = 32, **kwargs: Any) -> None:
        kwargs["client_type"] = "s3"
        kwargs.setdefault("config", shared_client_config(threads))
        super().__init__(*args, **kwargs)
