"""mediaconvert_transcode on real Airflow processes: an upload event starts it, the job is
waited for by the real triggerer, and the renditions land in S3."""

from __future__ import annotations

import secrets

import pytest

from include.local_stack.bootstrap import BUCKETS, UPLOAD_PREFIX
from tests.helpers import ffprobe, make_video

pytestmark = pytest.mark.integration
DAG_ID = "mediaconvert_transcode"


def test_an_upload_is_transcoded_with_the_wait_in_the_triggerer(airflow_cluster, tmp_path):
    stack = airflow_cluster.stack
    s3 = stack.boto3_client("s3")
    stem = f"mc event {secrets.token_hex(3)}"
    key = f"{UPLOAD_PREFIX}{stem}.mp4"  # arrives URL-encoded in the event
    airflow_cluster.unpause(DAG_ID)

    s3.upload_file(str(make_video(tmp_path / "e.mp4", 1.0, width=1280, height=720)), BUCKETS["media"], key)

    run = airflow_cluster.wait_for_event_run(DAG_ID, key, timeout=240)
    state = airflow_cluster.wait(DAG_ID, run["dag_run_id"], timeout=300)
    assert state == "success", airflow_cluster.task_instances(DAG_ID, run["dag_run_id"])
    mc = stack.boto3_client("mediaconvert")
    [job] = [
        j for j in mc.list_jobs(MaxResults=20)["Jobs"]
        if j["Settings"]["Inputs"][0]["FileInput"] == f"s3://{BUCKETS['media']}/{key}"
    ]  # fmt: skip
    assert job["Status"] == "COMPLETE"
    assert job["UserMetadata"]["run_id"] == run["dag_run_id"]
    # the task deferred: the real triggerer polled the job and wrote the trigger's log for the task
    task_logs = airflow_cluster.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run['dag_run_id']}" / "task_id=transcode"
    trigger_log = "".join(p.read_text() for p in task_logs.rglob("*.log.trigger.*"))
    assert f"MediaConvert job {job['Id']}:" in trigger_log
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKETS["renditions"], Prefix=f"{stem}/")["Contents"])
    assert keys == [f"{stem}/{stem}_480p.mp4", f"{stem}/{stem}_720p.mp4"]  # 1080p would upscale
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKETS["renditions"], "Key": keys[1]})
    info = ffprobe(url)
    assert [s["height"] for s in info["streams"] if s["codec_type"] == "video"] == [720]
