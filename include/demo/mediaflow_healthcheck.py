"""Demo: check the deployment reaches the local stack before the pipelines run."""

from __future__ import annotations

from include.local_stack.bootstrap import BUCKETS, QUEUES, VIDEO_TABLE
from include.local_stack.stack import Stack

ORDER = 10
DAG_ID = "mediaflow_healthcheck"


def prepare(stack: Stack) -> tuple[str, dict]:
    return DAG_ID, {
        "buckets": sorted(BUCKETS.values()),
        "table_name": VIDEO_TABLE,
        "queue_names": sorted(QUEUES.values()),
    }


def summarize(stack: Stack, conf: dict, state: str) -> list[str]:
    if state != "success":
        return ["the deployment cannot reach the local stack: see the task log of `check`"]
    return [
        f"reached {len(conf['buckets'])} buckets, table {conf['table_name']}, {len(conf['queue_names'])} queues, ffmpeg",
        f"S3/DynamoDB/SQS endpoint: {stack.aws_endpoint}",
    ]
