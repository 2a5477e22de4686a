"""Conf contract of `mediaflow_healthcheck`."""

from __future__ import annotations

from airflow.sdk import Param

from mediaflow.common import params as fields

PARAMS = {
    "buckets": Param(
        ["mediaflow-source", "mediaflow-destination", "mediaflow-media"],
        type="array",
        items={"type": "string", "pattern": fields.BUCKET_PATTERN},
        description="Buckets the AWS connection must reach (HeadBucket on each).",
    ),
    "table_name": fields.string(
        "DynamoDB table the video index writes to (DescribeTable); null skips the check.",
        "mediaflow-videos",
    ),
    "queue_names": Param(
        [],
        type="array",
        items={"type": "string", "minLength": 1, "maxLength": 80},
        description="SQS queues the event-driven DAGs watch (GetQueueUrl on each).",
    ),
    "check_ffmpeg": fields.boolean("Also check that ffmpeg and ffprobe run on the worker.", True),
}
