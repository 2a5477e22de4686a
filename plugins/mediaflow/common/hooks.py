"""AWS clients for operators that need a plain boto3 client: the connection's settings, with
mediaflow's retry settings (common/aws.py) wherever the connection sets none."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

from mediaflow.common.aws import with_retries


class SharedRetries:
    """Mixin for `AwsBaseHook` subclasses: their clients (sync and aiobotocore alike) get the
    connection's botocore settings with mediaflow's retry settings wherever it sets none."""

    #: extra botocore options for this hook's clients (e.g. max_pool_connections)
    client_options: dict[str, Any] = {}  # noqa: RUF012 - read-only class default

    @property
    def config(self) -> Config:
        return with_retries(self.conn_config.botocore_config, **self.client_options)  # type: ignore[attr-defined]


def aws_client(service: str, aws_conn_id: str | None, *, region_name: str | None = None, **config: Any) -> Any:
    """A boto3 client for `service`; `config` adds botocore options (e.g. max_pool_connections)."""
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type=service, region_name=region_name)
    return hook.get_client_type(config=with_retries(hook.conn_config.botocore_config, **config))


def aws_resource(service: str, aws_conn_id: str | None, *, region_name: str | None = None, **config: Any) -> Any:
    """A boto3 service resource for `service` (DynamoDB tables convert types for us)."""
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, resource_type=service, region_name=region_name)
    return hook.get_resource_type(config=with_retries(hook.conn_config.botocore_config, **config))
