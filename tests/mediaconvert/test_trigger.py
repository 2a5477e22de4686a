"""The `job_complete` waiter (waiters.json) and MediaConvertJobTrigger against the local
MediaConvert service: COMPLETE succeeds, ERROR and CANCELED fail carrying what the job says,
the synchronous and the deferred wait agree, and the trigger survives the triggerer's table."""

from __future__ import annotations

import asyncio
import importlib
import threading

import pytest
from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

from mediaflow.mediaconvert.hook import JOB_COMPLETE_WAITER, JOB_STATUS_QUERIES, MediaConvertHook
from mediaflow.mediaconvert.trigger import MediaConvertJobTrigger
from tests.helpers import make_video
from tests.mediaconvert.local_jobs import paused_queue, submit, wait_for_status

CORRUPT_MESSAGE = (
    "Unable to open input file [s3://{bucket}/in/corrupt.mp4]: [Failed probe/open: [No parser found for container]]"
)


@pytest.fixture
def mc(local_stack):
    return local_stack.boto3_client("mediaconvert")


def _release_once_seen(caplog, release, stop: threading.Event) -> None:
    """Release a held job once a wait has logged a look at it unfinished (the waiters log each
    such look at INFO), or when the test ends without one."""
    while not stop.wait(0.05):
        if any("SUBMITTED" in record.getMessage() for record in list(caplog.records)):
            break
    release()


@pytest.fixture
def ended_job(mc, s3, make_bucket, ffmpeg_bin, tmp_path, caplog):
    """A job that will end (or has ended) in the given state, and the bucket it reads from."""
    caplog.set_level("INFO")
    releasers: list[tuple[threading.Event, threading.Thread]] = []

    def make(ending: str) -> tuple[str, str]:
        bucket = make_bucket("mcw")
        if ending == "COMPLETE":
            video = make_video(tmp_path / "ok.mp4", 2, width=640, height=360)
            queue, release = paused_queue(mc)
            job_id = submit(mc, s3, bucket, "in/ok.mp4", video, f"s3://{bucket}/out/", queue=queue)
            # held in its paused queue until the waiter has seen it unfinished, so it has to look again
            stop = threading.Event()
            releasers.append((stop, threading.Thread(target=_release_once_seen, args=(caplog, release, stop))))
            releasers[-1][1].start()
            return job_id, bucket
        if ending == "ERROR":
            corrupt = tmp_path / "corrupt.mp4"
            corrupt.write_bytes(b"this is not a video" * 100)
            return submit(mc, s3, bucket, "in/corrupt.mp4", corrupt, f"s3://{bucket}/out/"), bucket
        video = make_video(tmp_path / "long.mp4", 20, width=1280, height=720)
        job_id = submit(mc, s3, bucket, "in/long.mp4", video, f"s3://{bucket}/out/", size=(1280, 720))
        wait_for_status(mc, job_id, {"PROGRESSING"})
        mc.cancel_job(Id=job_id)
        return job_id, bucket

    yield make
    for stop, thread in releasers:  # while this test's log is still there to read
        stop.set()
        thread.join()


def _hook() -> MediaConvertHook:
    return MediaConvertHook(aws_conn_id="aws_default")


async def _first_event(trigger: MediaConvertJobTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def test_waiter_succeeds_once_the_job_is_complete(mc, ended_job):
    job_id, _ = ended_job("COMPLETE")
    wait(_hook().get_waiter(JOB_COMPLETE_WAITER), 0.5, 240, {"Id": job_id}, "failed", "status", JOB_STATUS_QUERIES)
    assert mc.get_job(Id=job_id)["Job"]["Status"] == "COMPLETE"


@pytest.mark.parametrize("ending", ["ERROR", "CANCELED"])
def test_waiter_fails_on_error_and_canceled_with_the_job_in_the_failure(mc, ended_job, ending):
    job_id, bucket = ended_job(ending)
    with pytest.raises(WaiterTerminalFailure, match=f'matched expected path: "{ending}"') as failure:
        wait(_hook().get_waiter(JOB_COMPLETE_WAITER), 0.5, 240, {"Id": job_id}, "failed", "status", JOB_STATUS_QUERIES)
    job = failure.value.last_response["Job"]
    assert (job["Id"], job["Status"]) == (job_id, ending)
    if ending == "ERROR":
        assert (job["ErrorCode"], job["ErrorMessage"]) == (1010, CORRUPT_MESSAGE.format(bucket=bucket))


@pytest.mark.parametrize("ending", ["COMPLETE", "ERROR", "CANCELED"])
def test_synchronous_wait_returns_the_ended_job(mc, ended_job, ending, caplog):
    job_id, _ = ended_job(ending)
    with caplog.at_level("INFO"):
        job = _hook().wait_for_job(job_id, waiter_delay=0.5, waiter_max_attempts=240)
    assert job == mc.get_job(Id=job_id)["Job"]
    assert job["Status"] == ending
    if ending == "COMPLETE":  # each unfinished look is logged with the job's progress
        assert (
            f"MediaConvert job {job_id}: PROGRESSING" in caplog.text
            or f"MediaConvert job {job_id}: SUBMITTED" in caplog.text
        )


def test_trigger_fires_success_on_complete(ended_job):
    job_id, _ = ended_job("COMPLETE")
    trigger = MediaConvertJobTrigger(job_id=job_id, waiter_delay=0.5, waiter_max_attempts=240)
    assert asyncio.run(_first_event(trigger)) == {"status": "success", "job_id": job_id}


def test_trigger_fails_on_error_with_the_jobs_error_message(ended_job):
    job_id, bucket = ended_job("ERROR")
    trigger = MediaConvertJobTrigger(job_id=job_id, waiter_delay=0.5, waiter_max_attempts=240)
    event = asyncio.run(_first_event(trigger))
    assert (event["status"], event["job_id"]) == ("error", job_id)
    assert (
        f"MediaConvert job {job_id} failed: ERROR - 1010 - {CORRUPT_MESSAGE.format(bucket=bucket)}" in event["message"]
    )


def test_trigger_fails_on_canceled(ended_job):
    job_id, _ = ended_job("CANCELED")
    trigger = MediaConvertJobTrigger(job_id=job_id, waiter_delay=0.5, waiter_max_attempts=240)
    event = asyncio.run(_first_event(trigger))
    assert (event["status"], event["job_id"]) == ("error", job_id)
    assert event["message"].startswith(f"MediaConvert job {job_id} failed: CANCELED\n")


def test_trigger_gives_up_after_its_attempts(ended_job, mc):
    job_id, _ = ended_job("COMPLETE")
    trigger = MediaConvertJobTrigger(job_id=job_id, waiter_delay=0.1, waiter_max_attempts=1)
    event = asyncio.run(_first_event(trigger))
    assert event == {"status": "error", "job_id": job_id, "message": "Waiter error: max attempts reached"}


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_killing_the_deferred_task_cancels_only_a_job_the_task_owns(
    mc, s3, make_bucket, ffmpeg_bin, tmp_path, cancel_on_kill
):
    bucket = make_bucket("mck")
    video = make_video(tmp_path / "long.mp4", 20, width=1280, height=720)
    job_id = submit(mc, s3, bucket, "in/long.mp4", video, f"s3://{bucket}/out/", size=(1280, 720))
    wait_for_status(mc, job_id, {"PROGRESSING"})
    trigger = MediaConvertJobTrigger(job_id=job_id, cancel_on_kill=cancel_on_kill)

    asyncio.run(trigger.on_kill())  # what the triggerer calls when a user kills the deferred task

    status = mc.get_job(Id=job_id)["Job"]["Status"]
    if cancel_on_kill:
        assert status == "CANCELED"
    else:
        assert status == "PROGRESSING"
        mc.cancel_job(Id=job_id)


def test_on_kill_of_an_ended_job_leaves_it_as_it_is(mc, ended_job):
    job_id, _ = ended_job("ERROR")
    wait_for_status(mc, job_id, {"ERROR"})
    asyncio.run(MediaConvertJobTrigger(job_id=job_id, cancel_on_kill=True).on_kill())
    assert mc.get_job(Id=job_id)["Job"]["Status"] == "ERROR"


def test_trigger_round_trips_through_the_triggerer_table(airflow_db):
    """What a deferring task stores (classpath + encrypted kwargs) rebuilds the same trigger
    the way the triggerer does it: import the classpath, decrypt and decode the kwargs."""
    from airflow.models.trigger import Trigger
    from airflow.serialization.decoders import smart_decode_trigger_kwargs

    trigger = MediaConvertJobTrigger(
        job_id="1700000000000-abc123",
        cancel_on_kill=True,
        waiter_delay=7,
        waiter_max_attempts=11,
        aws_conn_id="mediaconvert_prod",
        region_name="eu-west-1",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "mediaflow.mediaconvert.trigger.MediaConvertJobTrigger"
    assert kwargs == {
        "job_id": "1700000000000-abc123",
        "cancel_on_kill": True,
        "waiter_delay": 7,
        "waiter_max_attempts": 11,
        "aws_conn_id": "mediaconvert_prod",
        "region_name": "eu-west-1",
    }
    row = Trigger.from_object(trigger)
    module, _, name = row.classpath.rpartition(".")
    trigger_class = getattr(importlib.import_module(module), name)
    stored = {k: smart_decode_trigger_kwargs(v) for k, v in Trigger._decrypt_kwargs(row.encrypted_kwargs).items()}
    rebuilt = trigger_class(**stored)
    assert trigger_class is MediaConvertJobTrigger
    assert rebuilt.serialize() == (classpath, kwargs)
    assert (rebuilt.waiter_args, rebuilt.attempts, rebuilt.waiter_delay) == ({"Id": "1700000000000-abc123"}, 11, 7)
