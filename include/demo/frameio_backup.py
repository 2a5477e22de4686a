"""Demo: back up the Frame.io stand-in's demo project (not Frame.io) into `mediaflow-backup`."""

from __future__ import annotations

import requests

from include.local_stack.stack import Stack

ORDER = 30
DAG_ID = "frameio_backup"
BUCKET = "mediaflow-backup"
PREFIX = "frameio-demo"


def prepare(stack: Stack) -> tuple[str, dict]:
    if not stack.frameio_url:
        raise RuntimeError("the Frame.io stand-in is not running; start the stack with `make stack-up`")
    project = requests.get(f"{stack.frameio_url}/_control/demo", timeout=10).json()
    return DAG_ID, {
        "asset_id": project["id"],
        "asset_type": "project",
        "api_version": "v4",
        "account_id": project["account_id"],
        "destination_bucket": BUCKET,
        "destination_prefix": PREFIX,
    }


def summarize(stack: Stack, conf: dict, state: str) -> list[str]:
    s3 = stack.boto3_client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    objects = [o for page in pages for o in page.get("Contents", [])]
    lines = [f"Frame.io stand-in demo project -> s3://{BUCKET}/{PREFIX}/ ({len(objects)} objects)"]
    for obj in objects:
        meta = s3.head_object(Bucket=BUCKET, Key=obj["Key"])["Metadata"]
        lines.append(
            f"  {obj['Key']}  {obj['Size']} B  asset {meta.get('frameio-asset-id', '?')[:8]}  "
            f"xxh64 {meta.get('frameio-xxh64', '-')}"
        )
    if state != "success":
        lines.append("the run did not succeed: see the task logs of `resolve` and `transfer`")
    else:
        lines.append("left out on purpose: one file still uploading, one watermarked review copy (see the task logs)")
    return lines
