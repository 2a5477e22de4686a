"""mediaconvert_transcode on real Airflow processes: an upload event starts it, the job is
waited for by the real triggerer, and the renditions land in S3."""

from __future__ import annotations

import secrets
import time

import pytest

from include.local_stack.bootstrap import BUCKETS, UPLOAD_PREFIX
from tests.helpers import ffprobe, make_video
from tests.mediaconvert.local_jobs import wait_for_status

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
    [transcode] = [
        ti for ti in airflow_cluster.task_instances(DAG_ID, run["dag_run_id"]) if ti["task_id"] == "transcode"
    ]
    assert transcode["rendered_map_index"] == key  # the grid names the input, not map index 0
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


def test_killing_the_deferred_task_cancels_its_job(airflow_cluster, tmp_path):
    """A user marks the transcode task failed while the triggerer waits on its job: the
    triggerer calls the trigger's on_kill, which cancels the job on the MediaConvert service."""
    stack = airflow_cluster.stack
    s3, mc = stack.boto3_client("s3"), stack.boto3_client("mediaconvert")
    name = f"kill-{secrets.token_hex(3)}"
    key = f"direct/{name}.mp4"  # outside the uploads prefix: no upload event, only this run
    s3.upload_file(str(make_video(tmp_path / "k.mp4", 40, width=1280, height=720)), BUCKETS["media"], key)
    destination = f"s3://{BUCKETS['renditions']}/{name}/"
    run_id = airflow_cluster.trigger(DAG_ID, {"bucket": BUCKETS["media"], "key": key, "destination": destination})

    job_id, trigger_log = _wait_until_the_triggerer_waits_on_the_job(
        airflow_cluster, run_id, f"s3://{BUCKETS['media']}/{key}"
    )
    resp = airflow_cluster.api(
        "PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/transcode/0", json={"new_state": "failed"}
    )
    assert resp.status_code == 200, resp.text

    job = wait_for_status(mc, job_id, {"COMPLETE", "ERROR", "CANCELED"}, timeout=120)
    assert job["Status"] == "CANCELED"
    assert airflow_cluster.wait(DAG_ID, run_id, timeout=120) == "failed"
    deadline = time.monotonic() + 60
    while f"canceled MediaConvert job {job_id}: its task was killed" not in trigger_log.read_text():
        assert time.monotonic() < deadline, trigger_log.read_text()
        time.sleep(1)


def _wait_until_the_triggerer_waits_on_the_job(cluster, run_id: str, input_uri: str, timeout: float = 240):
    """The job's id and the trigger's log file, once the triggerer has looked at the job and found it running."""
    mc = cluster.stack.boto3_client("mediaconvert")
    task_logs = cluster.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=transcode"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [j for j in mc.list_jobs(MaxResults=20)["Jobs"] if j["Settings"]["Inputs"][0]["FileInput"] == input_uri]
        for log in task_logs.rglob("*.log.trigger.*") if jobs else []:
            if f"MediaConvert job {jobs[0]['Id']}: PROGRESSING" in log.read_text():
                return jobs[0]["Id"], log
        time.sleep(1)
    raise TimeoutError(
        f"the triggerer never waited on a running job for {input_uri}: {cluster.task_instances(DAG_ID, run_id)}"
    )
