"""Conf contract of `mediaflow_healthcheck`.

Which buckets and queues to check has no built-in default: a deployment lists its own with
MEDIAFLOW_CONF_DEFAULTS (the local stack lists its sample buckets and queues)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaflow.common import params as fields

PARAMS = fields.with_deployment_defaults(
    "mediaflow_healthcheck",
    {
        "buckets": fields.string_list(
            "Buckets",
            "Buckets the AWS connection must reach (HeadBucket on each), one per line.",
            [],
            items={"minLength": 3, "maxLength": 63, **fields.BUCKET_RULES},
        ),
        "table_name": fields.text(
            "Video index table",
            "DynamoDB table the video index writes to (DescribeTable). Empty: skip the check.",
            "mediaflow-videos",
            minLength=3,
            maxLength=255,
        ),
        "queue_names": fields.string_list(
            "Upload queues",
            "SQS queues the event-driven DAGs watch (GetQueueUrl on each), one per line.",
            [],
            items={"minLength": 1, "maxLength": 80},
        ),
        "check_ffmpeg": fields.boolean("Check ffmpeg", "Also check that ffmpeg and ffprobe run on the worker.", True),
    },
)


def validate(conf: Mapping[str, Any]) -> None:
    """No rules across keys."""
