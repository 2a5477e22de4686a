"""Demo: cut a 25 s sample into 10 s segments and print the DynamoDB records of the video index."""

from __future__ import annotations

import tempfile
from pathlib import Path

from include.local_stack.bootstrap import BUCKETS, VIDEO_TABLE
from include.local_stack.samples import SEGMENT_SAMPLE_KEY, sample_video
from include.local_stack.stack import Stack

ORDER = 40
DAG_ID = "video_segment_index"
SAMPLE_KEY = SEGMENT_SAMPLE_KEY
SEGMENT_PREFIX = "demo/{video_name}/split"


def prepare(stack: Stack) -> tuple[str, dict]:
    s3 = stack.boto3_client("s3")
    with tempfile.TemporaryDirectory() as tmp:
        s3.upload_file(str(sample_video(Path(tmp) / "sample.mp4", 25, 320, 240, gop=50)), BUCKETS["media"], SAMPLE_KEY)
    return DAG_ID, {
        "bucket": BUCKETS["media"],
        "key": SAMPLE_KEY,
        "segment_seconds": 10,
        "mode": "copy",
        "output_key_prefix": SEGMENT_PREFIX,
        "table_name": VIDEO_TABLE,
    }


def _records(stack: Stack, table: str, bucket: str, key: str) -> list[dict]:
    """The parent's item and its segments' items, read back from DynamoDB (not from XCom)."""
    from boto3.dynamodb.types import TypeDeserializer

    ddb = stack.boto3_client("dynamodb")
    des = TypeDeserializer()
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += [{k: des.deserialize(v) for k, v in raw.items()} for raw in page["Items"]]
    parents = [i for i in items if i.get("process_step") == "upload" and i["bucket"] == bucket and i["key"] == key]
    if not parents:
        return []
    children = sorted((i for i in items if i.get("parent_video") == parents[0]["VideoId"]), key=lambda i: i["key"])
    return [parents[0], *children]


def _line(item: dict) -> str:
    w, h = (int(v) for v in item["size"])
    link = (
        f"sub_videos={len(item['sub_videos'])}"
        if item["process_step"] == "upload"
        else f"parent_video={item['parent_video']}"
    )
    return (
        f"VideoId {item['VideoId']} {item['process_step']:<9} {item['name']}{item['extension']} "
        f"size=[{w}, {h}] fps={item['fps']} duration={item['duration']} audio={item['audio']} "
        f"created={item['creation_time']} {link}"
    )


def summarize(stack: Stack, conf: dict, state: str) -> list[str]:
    records = _records(stack, conf["table_name"], conf["bucket"], conf["key"])
    if not records:
        return [f"no index records for s3://{conf['bucket']}/{conf['key']} (run {state}): see `segment_and_index`"]
    s3 = stack.boto3_client("s3")
    prefix = SEGMENT_PREFIX.format(video_name=Path(SAMPLE_KEY).stem) + "/"
    objects = s3.list_objects_v2(Bucket=conf["bucket"], Prefix=prefix).get("Contents", [])
    lines = [
        f"{len(objects)} segment(s) of {conf['segment_seconds']} s in s3://{conf['bucket']}/{prefix} "
        f"({sum(o['Size'] for o in objects) / 1024:.0f} KiB); DynamoDB table {conf['table_name']}:"
    ]
    return lines + [_line(item) for item in records]
