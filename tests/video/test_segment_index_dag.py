"""video_segment_index through dag.test(): real ffmpeg, S3 and DynamoDB on moto server over HTTP."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import BAD_MEDIA, ffprobe, make_audio_only, make_bad_media, make_video, run_dag, set_rotation

TABLE = "mediaflow-videos"


@pytest.fixture(autouse=True)
def _services(airflow_db, local_stack, ffmpeg_bin):
    """Every test here runs the DAG: metadata DB, moto server and ffmpeg."""


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_bin) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def long_video(media) -> Path:
    """65 s, keyframe every 2 s (gop 50 at 25 fps), 160x120 with audio."""
    return make_video(media / "long clip.mp4", 65, width=160, height=120, fps=25, gop=50)


@pytest.fixture
def ddb(local_stack):
    return local_stack.boto3_client("dynamodb")


def items_for(ddb, bucket: str, key: str | None = None, parent: int | None = None) -> list[dict]:
    """Items whose bucket (and key, or parent) match, through a scan: what a reader of the table sees."""
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    found = []
    for page in ddb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        for raw in page["Items"]:
            item = {k: des.deserialize(v) for k, v in raw.items()}
            if parent is not None:
                if item.get("parent_video") == parent:
                    found.append(item)
            elif item["bucket"] == bucket and (key is None or item["key"] == key):
                found.append(item)
    return found


def keys_under(s3, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def download(s3, bucket: str, key: str, dest: Path) -> Path:
    s3.download_file(bucket, key, str(dest))
    return dest


def video_stream(path: Path) -> dict:
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


def frames(path: Path) -> list[tuple[float, bool]]:
    """(pts_time, key_frame) of every video frame, from ffprobe."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time,key_frame",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = []
    for line in out.split():
        key_frame, pts = line.split(",")[:2]
        rows.append((float(pts), key_frame == "1"))
    return rows


def test_copy_mode_cuts_65s_into_7_keyframe_aligned_segments(local_stack, s3, ddb, make_bucket, long_video, tmp_path):
    bucket = make_bucket("seg")
    s3.upload_file(str(long_video), bucket, "in/long clip.mp4")
    result = run_dag("video_segment_index", {"bucket": bucket, "key": "in/long clip.mp4", "segment_seconds": 10})
    assert result.state == "success", result.task_states
    summary = result.only_xcom("segment_and_index")
    assert summary["status"] == "indexed" and summary["segments"] == 7

    keys = sorted(keys_under(s3, bucket, "project/"))
    assert keys == [f"project/long clip/split/long clip_{i:04d}.mp4" for i in range(7)]
    total_frames, total_duration = 0, 0.0
    for i, key in enumerate(keys):
        local = download(s3, bucket, key, tmp_path / f"{i}.mp4")
        rows = frames(local)
        assert rows[0][1], f"{key} does not start on a keyframe"
        assert rows[0][0] == pytest.approx(0.0, abs=0.05), "timestamps are reset per segment"
        total_frames += len(rows)
        total_duration += float(video_stream(local)["duration"])
        if i < 6:  # keyframes every 2 s: cuts at 10 s boundaries land exactly
            assert float(video_stream(local)["duration"]) == pytest.approx(10.0, abs=0.05)
    assert total_frames == len(frames(long_video)), "segments together hold every frame exactly once"
    assert total_duration == pytest.approx(65.0, abs=0.1)

    parent = items_for(ddb, bucket, "in/long clip.mp4")
    assert len(parent) == 1
    parent = parent[0]
    assert parent["process_step"] == "upload"
    assert parent["name"] == "long clip" and parent["extension"] == ".mp4"
    assert parent["size"] == [Decimal(160), Decimal(120)]
    assert parent["fps"] == Decimal(25) and parent["audio"] is True
    assert parent["duration"] == pytest.approx(Decimal("65"), abs=Decimal("0.1"))
    assert str(parent["VideoId"]) == summary["video_id"] and len(str(parent["VideoId"])) <= 38
    segments = items_for(ddb, bucket, parent=parent["VideoId"])
    assert sorted(s["VideoId"] for s in segments) == sorted(parent["sub_videos"])
    assert {s["process_step"] for s in segments} == {"timesplit"}
    assert sorted(s["key"] for s in segments) == keys
    first = next(s for s in segments if s["name"] == "long clip_0000")
    assert set(first) == {
        "VideoId", "process_step", "creation_time", "bucket", "key", "name", "extension",
        "size", "fps", "duration", "audio", "parent_video",
    }  # fmt: skip
    assert set(parent) == set(first) - {"parent_video"} | {"sub_videos"}


def test_exact_mode_cuts_every_segment_to_n_seconds_within_one_frame(s3, ddb, make_bucket, media, tmp_path):
    # keyframes every 2.8 s: copy mode could not cut at 10 s, exact mode must force its own
    source = make_video(media / "odd gop.mov", 65, width=160, height=120, fps=25, gop=70)
    bucket = make_bucket("exact")
    s3.upload_file(str(source), bucket, "odd gop.mov")
    result = run_dag(
        "video_segment_index", {"bucket": bucket, "key": "odd gop.mov", "segment_seconds": 10, "mode": "exact"}
    )
    assert result.state == "success", result.task_states
    keys = sorted(keys_under(s3, bucket, "project/odd gop/split/"))
    assert keys == [f"project/odd gop/split/odd gop_{i:04d}.mov" for i in range(7)]
    frame = 1 / 25
    durations = [
        float(video_stream(download(s3, bucket, k, tmp_path / f"{i}.mov"))["duration"]) for i, k in enumerate(keys)
    ]
    for d in durations[:-1]:
        assert abs(d - 10.0) <= frame, durations
    assert abs(durations[-1] - 5.0) <= frame, durations
    segments = items_for(ddb, bucket, parent=items_for(ddb, bucket, "odd gop.mov")[0]["VideoId"])
    assert sorted(float(s["duration"]) for s in segments)[0] == pytest.approx(5.0, abs=0.1)


@pytest.mark.parametrize(
    ("filename", "options", "size", "audio"),
    [
        ("portrait.mp4", {"rotate": 90}, [120, 160], True),
        ("silent.mp4", {"audio": False}, [160, 120], False),
        ("clip.mkv", {}, [160, 120], True),
    ],
    ids=["rotated", "no-audio", "mkv"],
)
def test_inputs_of_other_shapes(s3, ddb, make_bucket, media, tmp_path, filename, options, size, audio, capfd):
    rotate = options.pop("rotate", None)
    source = make_video(media / filename, 12, width=160, height=120, fps=25, gop=25, **options)
    if rotate is not None:
        source = set_rotation(source, rotate)
    bucket = make_bucket("shape")
    s3.upload_file(str(source), bucket, f"in/{filename}")
    result = run_dag("video_segment_index", {"bucket": bucket, "key": f"in/{filename}", "segment_seconds": 5})
    assert result.state == "success", result.task_states
    stem, ext = filename.rsplit(".", 1)
    keys = sorted(keys_under(s3, bucket, "project/"))
    assert keys == [f"project/{stem}/split/{stem}_{i:04d}.{ext}" for i in range(3)]
    parent = items_for(ddb, bucket, f"in/{filename}")[0]
    assert parent["size"] == size and parent["audio"] is audio
    segments = items_for(ddb, bucket, parent=parent["VideoId"])
    assert len(segments) == 3
    assert all(s["size"] == size and s["audio"] is audio and s["extension"] == f".{ext}" for s in segments)
    first = ffprobe(download(s3, bucket, keys[0], tmp_path / f"first.{ext}"))
    assert {s["codec_type"] for s in first["streams"]} == ({"video", "audio"} if audio else {"video"})
    if ext == "mkv":
        assert "matroska" in first["format"]["format_name"]
    log = capfd.readouterr().out
    assert f"ffmpeg s3://{bucket}/in/{filename}: 12.0s of 12.0s, 100%" in log, "the task log shows ffmpeg progress"


@pytest.mark.parametrize("kind", ["corrupt", "audio-only", *BAD_MEDIA])
def test_unusable_input_fails_cleanly_and_writes_nothing(s3, ddb, make_bucket, media, kind, capfd):
    bucket = make_bucket(f"bad-{kind}")
    if kind == "corrupt":
        path = media / "corrupt.mp4"
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
        expected = "ffprobe cannot read"
    elif kind == "audio-only":
        path = make_audio_only(media / "voice.mp4", 2)
        expected = "has no video stream"
    else:  # cut short (a +faststart mp4 whose index promises every frame), empty, text named .mp4
        path, expected = make_bad_media(media, kind), BAD_MEDIA[kind]
    key = f"uploads/{path.name}"
    s3.upload_file(str(path), bucket, key)
    rows_before = len(items_for(ddb, bucket))
    # production retries stay on: input that is not a video must fail at its first try
    result = run_dag("video_segment_index", {"bucket": bucket, "key": key, "segment_seconds": 1}, keep_retries=True)
    assert result.state == "failed"
    assert result.task_states["segment_and_index"] == ["failed"]
    assert result.tries["segment_and_index"] == [1], "retrying cannot make it a video: no second try"
    assert keys_under(s3, bucket) == [key], "nothing written to S3"
    assert len(items_for(ddb, bucket)) == rows_before == 0, "nothing written to DynamoDB"
    out = capfd.readouterr()
    assert f"s3://{bucket}/{key}" in out.out + out.err
    assert expected in out.out + out.err
    assert "X-Amz-Signature" not in out.out + out.err, "presigned URLs never reach the log"


def test_rerun_writes_no_duplicates_and_force_replaces_old_segments(s3, ddb, make_bucket, media, capfd):
    source = make_video(media / "rerun.mp4", 12, width=160, height=120, fps=25, gop=25)
    bucket = make_bucket("rerun")
    s3.upload_file(str(source), bucket, "rerun.mp4")
    conf = {"bucket": bucket, "key": "rerun.mp4", "segment_seconds": 4}
    first = run_dag("video_segment_index", conf)
    assert first.only_xcom("segment_and_index")["status"] == "indexed"
    rows = items_for(ddb, bucket)
    objects = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert len(rows) == 4 and len(objects) == 4  # parent + 3 segments; input + 3 segments
    logged = capfd.readouterr().out
    assert f"video_segment_index: s3://{bucket}/rerun.mp4\n  segments  3 segments of 4 s (copy mode)" in logged

    second = run_dag("video_segment_index", conf)
    assert second.state == "success"
    assert second.only_xcom("segment_and_index")["reason"] == "already processed with the same settings"
    assert sorted(r["VideoId"] for r in items_for(ddb, bucket)) == sorted(r["VideoId"] for r in rows)
    assert {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == objects

    forced = run_dag("video_segment_index", {**conf, "segment_seconds": 6, "force": True})
    summary = forced.only_xcom("segment_and_index")
    assert summary["status"] == "indexed" and summary["segments"] == 2 and summary["stale_removed"] == 1
    parent = items_for(ddb, bucket, "rerun.mp4")
    first_parent = next(r for r in rows if r["process_step"] == "upload")
    assert [p["VideoId"] for p in parent] == [first_parent["VideoId"]], "same object version, same id"
    assert len(parent[0]["sub_videos"]) == 2
    assert len(items_for(ddb, bucket)) == 3
    assert sorted(keys_under(s3, bucket, "project/")) == [f"project/rerun/split/rerun_{i:04d}.mp4" for i in range(2)]


def test_id_held_by_another_object_is_reported(s3, ddb, make_bucket, media, capfd):
    from mediaflow.video.index import video_id

    source = make_video(media / "conflict.mp4", 4, width=160, height=120, fps=25)
    bucket = make_bucket("conflict")
    s3.upload_file(str(source), bucket, "conflict.mp4")
    etag = s3.head_object(Bucket=bucket, Key="conflict.mp4")["ETag"]
    taken = video_id(bucket, "conflict.mp4", etag)
    ddb.put_item(
        TableName=TABLE,
        Item={
            "VideoId": {"N": str(taken)},
            "process_step": {"S": "upload"},
            "bucket": {"S": "legacy-bucket"},
            "key": {"S": "legacy/other.mp4"},
        },
    )
    result = run_dag("video_segment_index", {"bucket": bucket, "key": "conflict.mp4", "segment_seconds": 2})
    assert result.state == "failed"
    out = capfd.readouterr()
    assert f"VideoId {taken} is already held by s3://legacy-bucket/legacy/other.mp4" in out.out + out.err
    assert keys_under(s3, bucket) == ["conflict.mp4"], "no segments uploaded for a conflicting id"
    kept = ddb.get_item(TableName=TABLE, Key={"VideoId": {"N": str(taken)}})["Item"]
    assert kept["key"] == {"S": "legacy/other.mp4"}, "the other object's item is untouched"


def test_prefix_mode_maps_over_every_video_into_another_bucket(s3, ddb, make_bucket, media):
    src, dst = make_bucket("pfx-src"), make_bucket("pfx-dst")
    for name in ("a.mp4", "b c.mkv"):
        s3.upload_file(
            str(make_video(media / f"pfx-{name}", 3, width=160, height=120, fps=25, gop=25)), src, f"batch/{name}"
        )
    s3.put_object(Bucket=src, Key="batch/notes.txt", Body=b"not a video")
    result = run_dag(
        "video_segment_index",
        {
            "bucket": src,
            "prefix": "batch/",
            "segment_seconds": 2,
            "output_bucket": dst,
            "output_key_prefix": "{source_dir}/{video_name}",
        },
    )
    assert result.state == "success", result.task_states
    assert result.task_states["segment_and_index"] == ["success", "success"]
    assert result.labels["segment_and_index"] == ["batch/a.mp4", "batch/b c.mkv"]  # the grid names each video
    assert sorted(keys_under(s3, dst)) == [
        "batch/a/a_0000.mp4",
        "batch/a/a_0001.mp4",
        "batch/b c/b c_0000.mkv",
        "batch/b c/b c_0001.mkv",
    ]
    assert len(items_for(ddb, dst)) == 4 and len(items_for(ddb, src)) == 2


def test_upload_queue_env_adds_an_sqs_asset_watcher(monkeypatch):
    from tests.helpers import load_dag

    monkeypatch.setenv("MEDIAFLOW_SEGMENT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/uploads")
    dag = load_dag("video_segment_index")
    (asset,) = dag.schedule
    (watcher,) = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath.endswith("SqsSensorTrigger")
    assert kwargs["sqs_queue"].endswith("/123456789012/uploads")
    assert kwargs["message_filtering_config"] == "Records[*].eventName"
    assert dag.get_task("segment_and_index").pool == "ffmpeg"

    monkeypatch.delenv("MEDIAFLOW_SEGMENT_QUEUE_URL")
    assert load_dag("video_segment_index").schedule is None


def _operator(**kwargs):
    from mediaflow.video.operators import VideoSegmentIndexOperator

    return VideoSegmentIndexOperator(task_id="segment_direct", table_name=TABLE, **kwargs)


def test_download_path_uses_a_bounded_work_dir_that_is_always_removed(s3, ddb, make_bucket, media, tmp_path):
    """The fallback when ffmpeg cannot read the presigned URL: download into the work dir."""
    source = make_video(media / "download.mp4", 6, width=160, height=120, fps=25, gop=25)
    bucket = make_bucket("dl")
    s3.upload_file(str(source), bucket, "download.mp4")
    work = tmp_path / "work"

    too_small = _operator(
        video={"bucket": bucket, "key": "download.mp4"},
        segment_seconds=3,
        read_via_url=False,
        work_dir=str(work),
        max_work_bytes=source.stat().st_size,  # a download plus its segments cannot fit
    )
    with pytest.raises(OSError, match=r"download\.mp4 is .* needs about .* max_work_bytes"):
        too_small.execute({})
    assert list(work.iterdir()) == [], "work dir removed after a failure"
    assert keys_under(s3, bucket) == ["download.mp4"] and items_for(ddb, bucket) == []

    summary = _operator(
        video={"bucket": bucket, "key": "download.mp4"}, segment_seconds=3, read_via_url=False, work_dir=str(work)
    ).execute({})
    assert summary["status"] == "indexed" and summary["segments"] == 2
    assert list(work.iterdir()) == [], "work dir removed after success"
    assert len(keys_under(s3, bucket, "project/download/split/")) == 2
