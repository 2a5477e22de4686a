"""Incomplete media in a running deployment: each input fails its task at the first try, the
task log names the object and what is wrong, and nothing is written (no row, no object, no
MediaConvert job)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.helpers import BAD_MEDIA, make_bad_media

pytestmark = pytest.mark.faults

VIDEO_TABLE = "mediaflow-videos"


def task_log(af, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
    """The task's log as the UI shows it, through the REST API."""
    resp = af.api(
        "GET",
        f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/logs/{try_number}",
        params={"map_index": map_index, "full_content": "true"},
        headers={"Accept": "application/json"},
    )
    resp.raise_for_status()
    return json.dumps(resp.json())


def rows_for(ddb, bucket: str) -> list[dict]:
    rows = []
    for page in ddb.get_paginator("scan").paginate(TableName=VIDEO_TABLE, ConsistentRead=True):
        rows += [item for item in page["Items"] if item.get("bucket", {}).get("S") == bucket]
    return rows


def test_incomplete_media_fails_at_the_first_try_and_writes_nothing(made_up, tmp_path):
    made_up.cli("up")
    af, stack = made_up.airflow(), made_up.stack()
    s3, ddb, mc = stack.boto3_client("s3"), stack.boto3_client("dynamodb"), stack.boto3_client("mediaconvert")
    # buckets of their own, without the upload notifications that would start extra runs
    inputs, renditions = "faults-bad-input", "faults-bad-renditions"
    for bucket in (inputs, renditions):
        s3.create_bucket(Bucket=bucket)
    runs = {}
    for kind in BAD_MEDIA:
        key = f"uploads/{kind}.mp4"
        s3.upload_file(str(make_bad_media(tmp_path, kind)), inputs, key)
        runs[("video_segment_index", kind)] = af.trigger(
            "video_segment_index", {"bucket": inputs, "key": key, "segment_seconds": 5}
        )
        runs[("mediaconvert_transcode", kind)] = af.trigger(
            "mediaconvert_transcode", {"bucket": inputs, "key": key, "destination": f"s3://{renditions}/{kind}/"}
        )

    for (dag_id, kind), run_id in runs.items():
        assert af.wait(dag_id, run_id, timeout=600) == "failed", (dag_id, kind)
        task_id = "segment_and_index" if dag_id == "video_segment_index" else "transcode"
        [ti] = [t for t in af.task_instances(dag_id, run_id) if t["task_id"] == task_id]
        assert (ti["state"], ti["try_number"]) == ("failed", 1), (dag_id, kind, ti)
        log = task_log(af, dag_id, run_id, task_id, 1, ti["map_index"])
        assert f"s3://{inputs}/uploads/{kind}.mp4" in log and BAD_MEDIA[kind] in log, (dag_id, kind, log[-3000:])
        assert "X-Amz-Signature" not in log and "Signature=" not in log, "presigned URLs never reach the log"

    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=inputs)["Contents"]) == sorted(
        f"uploads/{kind}.mp4" for kind in BAD_MEDIA
    ), "no segment written next to the inputs"
    assert s3.list_objects_v2(Bucket=renditions)["KeyCount"] == 0, "no rendition written"
    assert rows_for(ddb, inputs) == [], "no row in the video index"
    jobs = mc.list_jobs(MaxResults=20)["Jobs"]
    assert [j for j in jobs if j["Settings"]["Inputs"][0]["FileInput"].startswith(f"s3://{inputs}/")] == []
