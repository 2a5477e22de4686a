"""CeleryExecutor end to end on PostgreSQL and Redis: two real workers share a mapped copy.

Marked `distributed`; with CI=true a missing PostgreSQL or Redis fails instead of skipping.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from tests.integration.celery_cluster import COPY_CAP

pytestmark = [pytest.mark.integration, pytest.mark.distributed]


def _upload_tree(s3, bucket: str, count: int, size: int = 64 * 1024) -> dict[str, str]:
    s3.create_bucket(Bucket=bucket)
    digests = {}

    def put(i: int) -> None:
        body = hashlib.sha256(str(i).encode()).digest() * (size // 32)
        key = f"footage/day{i % 3}/clip {i:03d}.mxf"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        digests[key] = hashlib.md5(body).hexdigest()  # noqa: S324 - compared with S3 ETags

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))
    return digests


def _intervals(tis: list[dict]) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(t["start_date"]), datetime.fromisoformat(t["end_date"])) for t in tis]


def _max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def test_mapped_copy_spreads_over_both_celery_workers(celery_cluster):
    s3 = celery_cluster.stack.boto3_client("s3")
    digests = _upload_tree(s3, "dist-source", 48)
    s3.create_bucket(Bucket="dist-destination")
    conf = {
        "source_bucket": "dist-source",
        "source_prefix": "",  # the whole bucket, not the local deployment's default prefix
        "destination_bucket": "dist-destination",
        "destination_prefix": "copied/",
        "report_bucket": "mediaflow-reports",
        "report_prefix": "distributed",
        "max_payload_objects": 2,
    }
    run_id = celery_cluster.trigger("s3_bulk_copy", conf)
    state = celery_cluster.wait("s3_bulk_copy", run_id, timeout=600)
    assert state == "success", celery_cluster.logs("scheduler")

    tis = celery_cluster.task_instances("s3_bulk_copy", run_id)
    copies = [t for t in tis if t["task_id"] == "copy"]
    assert len(copies) == 24
    assert {t["state"] for t in copies} == {"success"}
    assert {t["hostname"] for t in copies} == set(celery_cluster.workers), "both workers must have copied payloads"
    # max_active_tis_per_dagrun caps the mapped copy below the 4 worker slots available
    assert _max_overlap(_intervals(copies)) <= COPY_CAP

    listed = s3.get_paginator("list_objects_v2").paginate(Bucket="dist-destination", Prefix="copied/")
    copied = {o["Key"]: o["ETag"].strip('"') for page in listed for o in page.get("Contents", [])}
    assert copied == {f"copied/{k}": v for k, v in digests.items()}


def test_deferred_mediaconvert_job_is_waited_for_by_the_triggerer(celery_cluster, tmp_path):
    from tests.helpers import make_video

    stack = celery_cluster.stack
    s3 = stack.boto3_client("s3")
    s3.upload_file(str(make_video(tmp_path / "d.mp4", 1.0, width=854, height=480)), "mediaflow-media", "dist/d.mp4")
    conf = {"bucket": "mediaflow-media", "key": "dist/d.mp4", "destination": "s3://mediaflow-renditions/dist/"}
    run_id = celery_cluster.trigger("mediaconvert_transcode", conf)
    state = celery_cluster.wait("mediaconvert_transcode", run_id, timeout=400)
    tis = celery_cluster.task_instances("mediaconvert_transcode", run_id)
    assert state == "success", tis
    transcode = [t for t in tis if t["task_id"] == "transcode"]
    assert transcode
    assert {t["hostname"] for t in transcode} <= set(celery_cluster.workers)

    jobs = [
        j for j in stack.boto3_client("mediaconvert").list_jobs(MaxResults=50)["Jobs"]
        if j["UserMetadata"].get("run_id") == run_id
    ]  # fmt: skip
    assert [j["Status"] for j in jobs] == ["COMPLETE"]
    logs = celery_cluster.home / "logs" / "dag_id=mediaconvert_transcode" / f"run_id={run_id}" / "task_id=transcode"
    trigger_log = "".join(p.read_text() for p in logs.rglob("*.log.trigger.*"))
    assert f"MediaConvert job {jobs[0]['Id']}:" in trigger_log, "the wait ran in the triggerer"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="mediaflow-renditions", Prefix="dist/")["Contents"]}
    assert keys == {"dist/d_480p.mp4"}


def test_one_upload_starts_one_run_of_each_watching_dag(celery_cluster, tmp_path):
    import time

    from include.local_stack.bootstrap import BUCKETS, QUEUES, UPLOAD_PREFIX
    from tests.helpers import ffprobe, make_video

    s3 = celery_cluster.stack.boto3_client("s3")
    for dag_id in QUEUES:
        celery_cluster.unpause(dag_id)
    key = f"{UPLOAD_PREFIX}fan out take 1.mp4"
    s3.upload_file(str(make_video(tmp_path / "u.mp4", 2.0, width=320, height=240)), BUCKETS["media"], key)

    for dag_id in QUEUES:
        run = celery_cluster.wait_for_event_run(dag_id, key, timeout=300)
        state = celery_cluster.wait(dag_id, run["dag_run_id"], timeout=400)
        assert state == "success", (dag_id, celery_cluster.task_instances(dag_id, run["dag_run_id"]))
    time.sleep(10)  # a duplicate delivery would have started a second run by now
    for dag_id in QUEUES:
        assert len(celery_cluster.event_runs(dag_id, key)) == 1, f"{dag_id}: one upload must start exactly one run"
    segments = s3.list_objects_v2(Bucket=BUCKETS["media"], Prefix="project/fan out take 1/split/")["Contents"]
    assert [o["Key"] for o in segments] == ["project/fan out take 1/split/fan out take 1_0000.mp4"]
    # a 320x240 upload is below every rendition: the smallest is kept at the source's own size
    [rendition] = s3.list_objects_v2(Bucket=BUCKETS["renditions"], Prefix="fan out take 1/")["Contents"]
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKETS["renditions"], "Key": rendition["Key"]})
    heights = [st["height"] for st in ffprobe(url)["streams"] if st["codec_type"] == "video"]
    assert heights == [240]
