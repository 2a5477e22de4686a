"""SIGKILL the scheduler in the middle of a run: `make up` says so, stops what the dead
scheduler left (its orphaned workers) and restarts it, the run finishes with every segment and
row, and `make down` then leaves no process of the deployment running."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.helpers import make_video

pytestmark = pytest.mark.faults

DAG_ID = "video_segment_index"


def poll(read, until, timeout: float = 900):
    """Call `read()` every second until `until(value)`; a read that times out (an API server
    slowed down by a loaded machine) is simply read again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = read()
        except requests.Timeout:
            continue
        if until(value):
            return value
        time.sleep(1)
    raise TimeoutError(f"gave up after {timeout:.0f}s")


def task_state(af, run_id: str, task_id: str) -> str | None:
    return {t["task_id"]: t["state"] for t in af.task_instances(DAG_ID, run_id)}.get(task_id)


def segments_and_rows(stack, bucket: str, key: str, prefix: str) -> tuple[list[str], list[dict]]:
    from boto3.dynamodb.types import TypeDeserializer

    s3, ddb, des = stack.boto3_client("s3"), stack.boto3_client("dynamodb"), TypeDeserializer()
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    rows = []
    for page in ddb.get_paginator("scan").paginate(TableName="mediaflow-videos", ConsistentRead=True):
        rows += [{k: des.deserialize(v) for k, v in raw.items()} for raw in page["Items"]]
    parent = [r for r in rows if r["bucket"] == bucket and r["key"] == key and r["process_step"] == "upload"]
    children = [r for r in rows if parent and r.get("parent_video") == parent[0]["VideoId"]]
    return sorted(objects), parent + children


def test_scheduler_killed_mid_run_is_restarted_by_make_up_and_make_down_leaves_nothing(made_up, tmp_path):
    from include.local_stack.database import EmbeddedPostgres
    from include.local_stack.processes import Started, family

    made_up.cli("up")
    af, stack = made_up.airflow(), made_up.stack()
    s3 = stack.boto3_client("s3")
    bucket, key, prefix = "faults-scheduler-kill", "in/long take.mp4", "out/long take"
    s3.create_bucket(Bucket=bucket)  # no upload notifications: this test's run is the only one
    s3.upload_file(str(make_video(tmp_path / "long take.mp4", 60, width=320, height=240, fps=25, gop=50)), bucket, key)
    conf = {"bucket": bucket, "key": key, "segment_seconds": 10, "mode": "exact", "output_key_prefix": prefix}
    run_id = af.trigger(DAG_ID, conf)
    state = poll(lambda: task_state(af, run_id, "segment_and_index"), lambda s: s in ("running", "success", "failed"))
    assert state == "running", "the kill must land while the task runs"

    scheduler = Started.from_json(made_up.state()["components"]["scheduler"])
    orphans = [p for p in family([scheduler]) if p.pid != scheduler.pid]
    assert orphans, "the scheduler's executor workers and the running task are its family"
    os.kill(scheduler.pid, signal.SIGKILL)
    killed_at = time.monotonic()

    restarted = made_up.cli("up").stdout
    assert f"scheduler (pid {scheduler.pid}) was not running: restarting it" in restarted, restarted
    # its orphaned workers hold its database connections (and any transaction it had open): they
    # go before the new scheduler starts, the one running a task included (the task runs again)
    assert "process(es) it left behind" in restarted, restarted
    assert [p.pid for p in orphans if p.alive()] == []
    for other in ("api-server", "dag-processor", "triggerer"):
        assert f"{other} (pid" not in restarted, f"{other} was alive and must not be restarted:\n{restarted}"
    assert made_up.state()["components"]["scheduler"]["pid"] != scheduler.pid

    assert poll(lambda: af.run_state(DAG_ID, run_id), lambda s: s in ("success", "failed")) == "success"
    finished_after = time.monotonic() - killed_at
    [ti] = [t for t in af.task_instances(DAG_ID, run_id) if t["task_id"] == "segment_and_index"]
    objects, rows = segments_and_rows(stack, bucket, key, prefix)
    assert objects == [f"{prefix}/long take_{i:04d}.mp4" for i in range(6)], objects
    assert len(rows) == 7 and len(rows[0]["sub_videos"]) == 6, rows
    durations = [float(r["duration"]) for r in rows[1:]]
    assert all(abs(d - 10) <= 0.1 for d in durations), durations
    assert abs(sum(durations) - 60) <= 0.5, "the segments cover the whole video, nothing lost to the kill"

    recorded = made_up.recorded()
    running = {p.pid: p for p in family(recorded)}
    postgres = EmbeddedPostgres(made_up.home / "postgres")
    assert postgres.running() and postgres.pid in running

    down = made_up.cli("down").stdout
    left = [pid for pid, p in running.items() if p.alive()]
    assert left == [], f"still running after make down: {left}"
    assert family(recorded) == [], "no process left in any recorded session or process tree"
    assert not postgres.running()
    print(
        f"\nscheduler SIGKILL: run finished {finished_after:.0f} s after the kill "
        f"(segment_and_index try {ti['try_number']}); {len(orphans)} process(es) orphaned by the kill; "
        f"make down stopped {len(running)} process(es): {down.strip()}"
    )
