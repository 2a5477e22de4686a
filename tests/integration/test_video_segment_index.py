"""video_segment_index on real Airflow processes: an S3 upload event starts it through the SQS asset watcher."""

from __future__ import annotations

import secrets

import pytest
from boto3.dynamodb.types import TypeDeserializer

from include.local_stack.bootstrap import BUCKETS, UPLOAD_PREFIX, VIDEO_TABLE
from tests.helpers import make_video

pytestmark = pytest.mark.integration
DAG_ID = "video_segment_index"


def _indexed(stack, bucket: str, key: str) -> list[dict]:
    ddb = stack.boto3_client("dynamodb")
    des = TypeDeserializer()
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=VIDEO_TABLE, ConsistentRead=True):
        items += [{k: des.deserialize(v) for k, v in raw.items()} for raw in page["Items"]]
    parents = [i for i in items if i["bucket"] == bucket and i["key"] == key]
    return parents + [i for i in items if parents and i.get("parent_video") == parents[0]["VideoId"]]


def test_an_upload_event_starts_a_run_that_segments_the_video(airflow_cluster, tmp_path):
    stack = airflow_cluster.stack
    s3 = stack.boto3_client("s3")
    bucket = BUCKETS["media"]
    key = f"{UPLOAD_PREFIX}event clip {secrets.token_hex(3)}.mp4"  # the event carries it as `event+clip+...`
    airflow_cluster.unpause(DAG_ID)

    s3.upload_file(str(make_video(tmp_path / "clip.mp4", 4, width=160, height=120, gop=25)), bucket, key)

    run = airflow_cluster.wait_for_event_run(DAG_ID, key, timeout=240)
    state = airflow_cluster.wait(DAG_ID, run["dag_run_id"], timeout=240)
    tis = airflow_cluster.task_instances(DAG_ID, run["dag_run_id"])
    assert state == "success", tis
    assert run["conf"] in ({}, None), "an event-started run carries no conf"
    name = key.rsplit("/", 1)[1][: -len(".mp4")]
    segments = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"project/{name}/split/").get("Contents", [])
    )
    # default 30 s segments: a 4 s upload is one segment, named from the decoded key
    assert segments == [f"project/{name}/split/{name}_0000.mp4"]
    items = _indexed(stack, bucket, key)
    assert [i["process_step"] for i in items] == ["upload", "timesplit"]
    assert items[1]["key"] == segments[0]
    mapped = [ti for ti in tis if ti["task_id"] == "segment_and_index"]
    # other uploads of the session may ride in the same run (Airflow folds asset events that
    # arrived while the DAG was paused into its next run); every segmenting task uses the pool
    assert mapped
    assert {ti["pool"] for ti in mapped} == {"ffmpeg"}


def test_rest_trigger_with_conf_segments_one_object(airflow_cluster, tmp_path):
    stack = airflow_cluster.stack
    s3 = stack.boto3_client("s3")
    bucket = BUCKETS["media"]
    key = f"library/rest-{secrets.token_hex(3)}.mkv"  # outside uploads/: no event
    s3.upload_file(str(make_video(tmp_path / "rest.mkv", 5, width=160, height=120, gop=25)), bucket, key)
    conf = {
        "bucket": bucket,
        "key": key,
        "segment_seconds": 2,
        "mode": "exact",
        "output_key_prefix": "rest/{video_name}",
    }
    run_id = airflow_cluster.trigger(DAG_ID, conf)
    assert airflow_cluster.wait(DAG_ID, run_id, timeout=240) == "success"
    name = key.rsplit("/", 1)[1][:-4]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"rest/{name}/")["Contents"])
    assert keys == [f"rest/{name}/{name}_{i:04d}.mkv" for i in range(3)]
    assert len(_indexed(stack, bucket, key)) == 4
