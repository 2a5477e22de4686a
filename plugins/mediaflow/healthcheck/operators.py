"""Check that a deployment can reach what the pipelines need, before a real job finds out."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from mediaflow.common.conf import to_bool
from mediaflow.common.hooks import aws_client
from mediaflow.common.tasks import fail_fast


class MediaflowHealthcheckOperator(BaseOperator):
    """HeadBucket each bucket, DescribeTable, GetQueueUrl, and run `ffmpeg -version`.

    Fails listing every problem at once, each with the resource and the likely fix.

    :param buckets: buckets the connection must reach
    :param table_name: the video index table (None skips the check)
    :param queue_names: SQS queues the event-driven DAGs watch
    :param check_ffmpeg: also check that ffmpeg and ffprobe run on this worker
    :param aws_conn_id: the AWS connection to check
    """

    template_fields: Sequence[str] = ("buckets", "table_name", "queue_names", "check_ffmpeg", "aws_conn_id")

    def __init__(
        self,
        *,
        buckets: list[str] | str,
        table_name: str | None = None,
        queue_names: list[str] | str = (),
        check_ffmpeg: bool | str = True,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.buckets = buckets
        self.table_name = table_name
        self.queue_names = queue_names
        self.check_ffmpeg = check_ffmpeg
        self.aws_conn_id = aws_conn_id

    @fail_fast()
    def execute(self, context: Context) -> dict[str, Any]:
        def client(service: str):
            return aws_client(service, self.aws_conn_id)

        problems: list[str] = []
        report: dict[str, Any] = {"buckets": {}, "table": None, "queues": {}, "ffmpeg": None}
        s3 = client("s3")
        for bucket in self.buckets or []:
            try:
                s3.head_bucket(Bucket=bucket)
                report["buckets"][bucket] = "ok"
            except Exception as exc:  # noqa: BLE001 - reported with the bucket name
                report["buckets"][bucket] = "unreachable"
                problems.append(
                    f"bucket {bucket!r}: {exc}. Create it or grant s3:ListBucket to the connection's identity."
                )
        if self.table_name:
            ddb = client("dynamodb")
            try:
                status = ddb.describe_table(TableName=self.table_name)["Table"]["TableStatus"]
                report["table"] = status
            except Exception as exc:  # noqa: BLE001
                problems.append(f"DynamoDB table {self.table_name!r}: {exc}. Create it (partition key VideoId, N).")
        if self.queue_names:
            sqs = client("sqs")
            for name in self.queue_names:
                try:
                    report["queues"][name] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"SQS queue {name!r}: {exc}. Create it and subscribe it to the upload topic.")
        if to_bool(self.check_ffmpeg, True):
            found = {binary: shutil.which(binary) for binary in ("ffmpeg", "ffprobe")}
            for binary, path in found.items():
                if path is None:
                    problems.append(f"{binary} is not on PATH of this worker. Install it: apt-get install ffmpeg.")
            if found["ffmpeg"]:
                out = subprocess.run([found["ffmpeg"], "-version"], capture_output=True, text=True, check=False)
                report["ffmpeg"] = out.stdout.splitlines()[0] if out.stdout else None
        if problems:
            raise AirflowFailException("healthcheck failed:\n- " + "\n- ".join(problems))
        self.log.info("healthcheck passed: %s", report)
        return report
