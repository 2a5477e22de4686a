"""MediaConvertJobSensor against the local MediaConvert service: a job submitted elsewhere is
waited for (poke mode, and deferred to the real trigger), and a failed job fails the sensor
with MediaConvert's error."""

from __future__ import annotations

import asyncio

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from mediaflow.mediaconvert.sensor import MediaConvertJobSensor
from mediaflow.mediaconvert.trigger import MediaConvertJobTrigger
from tests.helpers import make_video
from tests.mediaconvert.local_jobs import paused_queue, submit


@pytest.fixture
def mc(local_stack):
    return local_stack.boto3_client("mediaconvert")


async def _first_event(trigger: MediaConvertJobTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def _sensor(job_id: str, **kwargs) -> MediaConvertJobSensor:
    # do_xcom_push=False: no task instance here to store the console link on
    kwargs.setdefault("poke_interval", 0.5)
    return MediaConvertJobSensor(task_id="wait", job_id=job_id, do_xcom_push=False, **kwargs)


def test_deferred_sensor_resumes_with_the_outputs_in_s3(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    bucket = make_bucket("mcs")
    video = make_video(tmp_path / "l.mp4", 2, width=640, height=360)
    queue, release = paused_queue(mc)
    job_id = submit(mc, s3, bucket, "in/long take.mp4", video, f"s3://{bucket}/out/", queue=queue)
    sensor = _sensor(job_id, deferrable=True)
    # the job waits in a paused queue when the sensor first looks, so it must hand the wait over
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, MediaConvertJobTrigger)
    assert trigger.cancel_on_kill is False  # the job is not the sensor's to cancel
    assert deferred.value.method_name == "execute_complete"
    assert mc.get_job(Id=job_id)["Job"]["Status"] == "SUBMITTED"
    release()
    event = asyncio.run(_first_event(trigger))
    assert event == {"status": "success", "job_id": job_id}  # the waiter saw COMPLETE
    result = sensor.execute_complete({}, event)
    assert result["job_id"] == job_id
    assert result["outputs"] == [f"s3://{bucket}/out/long take_480p.mp4"]
    head = s3.head_object(Bucket=bucket, Key="out/long take_480p.mp4")
    assert head["ContentLength"] > 0


def test_poking_sensor_fails_with_mediaconvert_error(mc, s3, make_bucket, tmp_path):
    bucket = make_bucket("mcs-bad")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"this is not a video" * 100)
    job_id = submit(mc, s3, bucket, "in/corrupt.mp4", corrupt, f"s3://{bucket}/out/")
    sensor = _sensor(job_id, deferrable=False, timeout=120)
    with pytest.raises(AirflowFailException, match=rf"MediaConvert job {job_id} ended ERROR: error 1010"):
        sensor.execute({})
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="out/")
