"""mediaconvert_transcode through dag.test(): the local MediaConvert service really transcodes
with ffmpeg, reading from and writing to moto server over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import BAD_MEDIA, ffprobe, make_bad_media, make_video, run_dag

DAG_ID = "mediaconvert_transcode"


def _streams(s3, uri: str) -> dict:
    bucket, _, key = uri[len("s3://") :].partition("/")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    info = ffprobe(url)
    video = next((s for s in info["streams"] if s["codec_type"] == "video"), None)
    audio = next((s for s in info["streams"] if s["codec_type"] == "audio"), None)
    return {"video": video, "audio": audio, "duration": float(info["format"]["duration"])}


def _jobs_for(local_stack, input_uri: str) -> list[dict]:
    mc = local_stack.boto3_client("mediaconvert")
    jobs = mc.list_jobs(MaxResults=20)["Jobs"]
    return [j for j in jobs if j["Settings"]["Inputs"][0]["FileInput"] == input_uri]


def test_three_renditions_from_a_1080p_source(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path, caplog, capsys
):
    src, out = make_bucket("in"), make_bucket("out")
    video = make_video(tmp_path / "Clip One.mp4", 1.0, width=1920, height=1080, fps=25)
    s3.upload_file(str(video), src, "uploads/Clip One.mp4")

    result = run_dag(DAG_ID, {"bucket": src, "key": "uploads/Clip One.mp4", "destination": f"s3://{out}/clip/"})

    assert result.state == "success", result.task_states
    # the task deferred to MediaConvertJobTrigger and resumed in execute_complete
    logged = caplog.text + capsys.readouterr().out  # where it lands depends on logging setup order
    assert "[DAG TEST] running trigger in line" in logged
    assert "[DAG TEST] Trigger completed" in logged
    outputs = result.only_xcom("transcode")["outputs"]
    assert outputs == [f"s3://{out}/clip/Clip One_{name}.mp4" for name in ("1080p", "720p", "480p")]
    for uri, (width, height) in zip(outputs, [(1920, 1080), (1280, 720), (854, 480)], strict=True):
        found = _streams(s3, uri)
        assert (found["video"]["width"], found["video"]["height"]) == (width, height), uri
        assert found["video"]["codec_name"] == "h264"
        assert found["audio"]["codec_name"] == "aac" and found["audio"]["sample_rate"] == "48000"
        assert abs(found["duration"] - 1.0) <= 0.1, (uri, found["duration"])
    [job] = _jobs_for(local_stack, f"s3://{src}/uploads/Clip One.mp4")
    assert job["Status"] == "COMPLETE"
    assert job["UserMetadata"] == {"dag_id": DAG_ID, "run_id": result.run_id, "task_id": "transcode"}
    heights = [d["VideoDetails"]["HeightInPx"] for d in job["OutputGroupDetails"][0]["OutputDetails"]]
    assert heights == [1080, 720, 480]


def test_small_silent_source_is_never_upscaled_and_gets_no_audio(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path
):
    src, out = make_bucket("in"), make_bucket("out")
    video = make_video(tmp_path / "small.mp4", 2.0, width=640, height=360, audio=False)
    s3.upload_file(str(video), src, "small.mp4")

    result = run_dag(DAG_ID, {"bucket": src, "key": "small.mp4", "destination": f"s3://{out}/"})

    assert result.state == "success", result.task_states
    [uri] = result.only_xcom("transcode")["outputs"]
    assert uri == f"s3://{out}/small_480p.mp4"
    found = _streams(s3, uri)
    assert (found["video"]["width"], found["video"]["height"]) == (640, 360)
    assert found["audio"] is None
    assert abs(found["duration"] - 2.0) <= 0.1
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=out)["Contents"]]
    assert listed == ["small_480p.mp4"]


def test_hls_template_writes_a_ladder_and_a_master_playlist(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path
):
    src, out = make_bucket("in"), make_bucket("out")
    video = make_video(tmp_path / "v.mp4", 1.0, width=1280, height=720)
    s3.upload_file(str(video), src, "v.mp4")

    result = run_dag(
        DAG_ID, {"bucket": src, "key": "v.mp4", "destination": f"s3://{out}/v/", "template": "mp4_hls_renditions"}
    )

    assert result.state == "success", result.task_states
    outputs = result.only_xcom("transcode")["outputs"]
    assert outputs == [
        f"s3://{out}/v/v_720p.mp4",
        f"s3://{out}/v/v_480p.mp4",
        f"s3://{out}/v/hls/v.m3u8",
        f"s3://{out}/v/hls/v_720p.m3u8",
        f"s3://{out}/v/hls/v_480p.m3u8",
    ]
    master = s3.get_object(Bucket=out, Key="v/hls/v.m3u8")["Body"].read().decode()
    assert "RESOLUTION=1280x720" in master and "v_480p.m3u8" in master
    variant = s3.get_object(Bucket=out, Key="v/hls/v_480p.m3u8")["Body"].read().decode()
    assert "v_480p_00001.ts" in variant
    found = _streams(s3, f"s3://{out}/v/hls/v_480p_00001.ts")
    assert found["video"]["height"] == 480 and found["audio"] is not None


def test_corrupt_input_ends_in_error_and_the_task_fails_with_the_message(
    airflow_db, local_stack, s3, make_bucket, capsys
):
    """An input the local probe cannot judge is submitted, and MediaConvert's error is what the
    task reports: here bytes ffprobe cannot read under a name that is no video file name (as an
    IMF package's XML would be). Under a video name they are refused before submission (below)."""
    src, out = make_bucket("in"), make_bucket("out")
    s3.put_object(Bucket=src, Key="broken.xml", Body=b"this is not a video at all" * 100)

    result = run_dag(DAG_ID, {"bucket": src, "key": "broken.xml", "destination": f"s3://{out}/"})

    assert result.state == "failed"
    assert result.task_states["transcode"] == ["failed"]
    [job] = _jobs_for(local_stack, f"s3://{src}/broken.xml")
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1010
    assert job["ErrorMessage"] == (
        f"Unable to open input file [s3://{src}/broken.xml]: [Failed probe/open: [No parser found for container]]"
    )
    assert f"MediaConvert job {job['Id']} ended ERROR: error 1010: {job['ErrorMessage']}" in capsys.readouterr().out
    assert s3.list_objects_v2(Bucket=out)["KeyCount"] == 0


def test_a_retried_submit_gets_the_same_job_back(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path, monkeypatch
):
    """The first try submits the job and then dies while resuming (as a lost worker would);
    the retry sends the same ClientRequestToken and MediaConvert answers with that job."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from mediaflow.common import dag_defaults
    from mediaflow.mediaconvert.operators import MediaConvertCreateJobOperator

    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retries", 1)
    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retry_delay", timedelta(0))
    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retry_exponential_backoff", False)
    resumed = []
    original = MediaConvertCreateJobOperator.execute_complete

    def lost_worker_once(self, context, event):
        resumed.append(event["job_id"])
        if len(resumed) == 1:
            raise RuntimeError("worker lost after the job was submitted")
        return original(self, context, event)

    monkeypatch.setattr(MediaConvertCreateJobOperator, "execute_complete", lost_worker_once)
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "r.mp4", 1.0, width=320, height=240)), src, "r.mp4")

    result = run_dag(DAG_ID, {"bucket": src, "key": "r.mp4", "destination": f"s3://{out}/"}, keep_retries=True)

    assert result.state == "success", result.task_states
    jobs = _jobs_for(local_stack, f"s3://{src}/r.mp4")
    assert [j["Id"] for j in jobs] == resumed[:1]
    assert result.only_xcom("transcode")["job_id"] == resumed[0]
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=result.run_id, task_id="transcode").one()
        assert ti.try_number == 2


def test_bad_template_fails_before_any_job_exists(
    airflow_db, local_stack, s3, make_bucket, tmp_path, monkeypatch, capsys
):
    import json

    from mediaflow.mediaconvert import jobs as mediaconvert_jobs

    templates = tmp_path / "templates"
    templates.mkdir()
    good = json.loads((mediaconvert_jobs.TEMPLATE_DIR / "mp4_renditions.json").read_text())
    h264 = good["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]["CodecSettings"]["H264Settings"]
    h264["RateControlMode"] = "QVBR_PLUS"
    (templates / "broken.json").write_text(json.dumps(good))
    monkeypatch.setenv("MEDIAFLOW_MEDIACONVERT_TEMPLATES", str(templates))
    src = make_bucket("in")
    # 1080p, so that no rendition of the template is left out as taller than the source
    s3.upload_file(str(make_video(tmp_path / "x.mp4", 1.0, width=1920, height=1080)), src, "x.mp4")

    result = run_dag(DAG_ID, {"bucket": src, "key": "x.mp4", "template": "broken"})

    assert result.state == "failed"
    message = capsys.readouterr().out
    assert "Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings.RateControlMode" in message
    assert "'QVBR_PLUS' is not one of" in message
    assert _jobs_for(local_stack, f"s3://{src}/x.mp4") == []


@pytest.mark.parametrize("kind", list(BAD_MEDIA))
def test_incomplete_input_is_refused_before_any_job_exists(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path, capsys, kind
):
    """A video cut short, an empty object or text under a video name: the local probe proves
    it unusable, so the task fails at its first try (production retries on) and MediaConvert
    gets no job to bill for."""
    src, out = make_bucket("in"), make_bucket("out")
    key = f"uploads/{kind}.mp4"
    s3.upload_file(str(make_bad_media(tmp_path, kind)), src, key)

    result = run_dag(DAG_ID, {"bucket": src, "key": key, "destination": f"s3://{out}/"}, keep_retries=True)

    assert result.state == "failed"
    assert result.task_states["transcode"] == ["failed"]
    assert result.tries["transcode"] == [1], "retrying cannot complete the file: no second try"
    message = capsys.readouterr().out
    assert f"s3://{src}/{key}" in message and BAD_MEDIA[kind] in message
    assert "X-Amz-Signature" not in message, "presigned URLs never reach the log"
    assert _jobs_for(local_stack, f"s3://{src}/{key}") == []
    assert s3.list_objects_v2(Bucket=out)["KeyCount"] == 0


@pytest.mark.parametrize("conf", [{"bucket": "mediaflow-media"}, {"key": "a.mp4"}])
def test_half_an_input_is_refused(airflow_db, conf):
    result = run_dag(DAG_ID, conf)
    assert result.state == "failed"
    assert result.task_states["resolve_inputs"] == ["failed"]


@pytest.mark.parametrize(
    ("conf", "task_id", "message"),
    [
        ({"key": "a.mp4"}, "resolve_inputs", "no input: bucket is empty. Give the video as bucket and key"),
        (
            {"key": "missing.mp4"},
            "transcode",
            "s3://{src}/missing.mp4 does not exist: check `bucket` and `key` (keys are case-sensitive).",
        ),
        ({"key": "x.mp4", "template": "no_such_template"}, "transcode", "template 'no_such_template' not found"),
    ],
    ids=["half-an-input", "missing-object", "unknown-template"],
)
def test_bad_conf_fails_its_task_at_the_first_try(
    airflow_db, local_stack, s3, make_bucket, monkeypatch, capsys, tmp_path, conf, task_id, message
):
    """With the production retries on, a conf that no retry can fix fails at try 1, saying why."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from mediaflow.common import dag_defaults

    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retry_delay", timedelta(0))  # a retry would show at once
    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retry_exponential_backoff", False)
    assert dag_defaults.DEFAULT_ARGS["retries"] >= 1
    src = make_bucket("in")
    # a real video: the input's own checks pass, and the conf is what fails
    s3.upload_file(str(make_video(tmp_path / "x.mp4", 1.0, width=320, height=240)), src, "x.mp4")
    if task_id == "transcode":
        conf = {"bucket": src, **conf}

    result = run_dag(DAG_ID, conf, keep_retries=True)

    assert result.state == "failed"
    assert result.task_states[task_id] == ["failed"]
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=result.run_id, task_id=task_id).all()
        assert [(ti.state, ti.try_number, ti.max_tries) for ti in tis] == [("failed", 1, 2)]
    assert message.format(src=src) in capsys.readouterr().out
    assert _jobs_for(local_stack, f"s3://{src}/{conf['key']}") == []


# -- every group type's outputs, checked; the summary; the job link -----------------------------
H264 = {
    "RateControlMode": "QVBR", "MaxBitrate": 800000, "QvbrSettings": {"QvbrQualityLevel": 7}, "GopSize": 1.0,
    "GopSizeUnits": "SECONDS", "FramerateControl": "INITIALIZE_FROM_SOURCE",
}  # fmt: skip
AAC = {"AudioSourceName": "Audio Selector 1", "CodecSettings": {"Codec": "AAC", "AacSettings": {
    "Bitrate": 96000, "SampleRate": 48000, "CodingMode": "CODING_MODE_2_0", "CodecProfile": "LC"}}}  # fmt: skip


def _dash_and_thumbnails(out: str) -> dict:
    """A DASH ISO ladder of one video and one audio output, and one frame capture a second."""
    capture = {"Codec": "FRAME_CAPTURE", "FrameCaptureSettings": {"FramerateNumerator": 1, "FramerateDenominator": 1,
                                                                  "MaxCaptures": 10, "Quality": 80}}  # fmt: skip
    dash = {
        "Destination": f"s3://{out}/dash/",
        "SegmentLength": 1,
        "FragmentLength": 1,
        "SegmentControl": "SEGMENTED_FILES",
    }
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [{"TimecodeSource": "ZEROBASED", "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}}],
        "OutputGroups": [
            {
                "Name": "DASH",
                "OutputGroupSettings": {"Type": "DASH_ISO_GROUP_SETTINGS", "DashIsoGroupSettings": dash},
                "Outputs": [
                    {"NameModifier": "_240p", "ContainerSettings": {"Container": "MPD"},
                     "VideoDescription": {"Width": 320, "Height": 240,
                                          "CodecSettings": {"Codec": "H_264", "H264Settings": H264}}},
                    {"NameModifier": "_aac", "ContainerSettings": {"Container": "MPD"}, "AudioDescriptions": [AAC]},
                ],
            },
            {
                "Name": "Thumbnails",
                "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS",
                                        "FileGroupSettings": {"Destination": f"s3://{out}/thumbs/"}},
                "Outputs": [{"NameModifier": "_thumb", "ContainerSettings": {"Container": "RAW"},
                             "VideoDescription": {"Width": 160, "Height": 120, "CodecSettings": capture}}],
            },
        ],
    }  # fmt: skip


def _job_template(local_stack, out: str) -> str:
    import uuid

    name = f"mediaflow-dash-thumbs-{uuid.uuid4().hex[:8]}"
    local_stack.boto3_client("mediaconvert").create_job_template(Name=name, Settings=_dash_and_thumbnails(out))
    return name


def _listed(s3, bucket: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def test_dash_and_frame_capture_outputs_are_checked_listed_and_linked(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path, caplog, capsys
):
    import json

    import requests
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from mediaflow.mediaconvert.links import MediaConvertJobLink

    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "take.mp4", 2.0, width=320, height=240)), src, "clips/2024/take 1.mp4")
    template = _job_template(local_stack, out)

    result = run_dag(DAG_ID, {"bucket": src, "key": "clips/2024/take 1.mp4", "job_template_name": template})

    assert result.state == "success", result.task_states
    assert result.labels["transcode"] == ["clips/2024/take 1.mp4"]  # the grid names the input
    written = _listed(s3, out)
    segments = [f"dash/take 1_{o}_00000000{n}.mp4" for o in ("240p", "aac") for n in (1, 2)]
    captures = [f"thumbs/take 1_thumb.000000{n}.jpg" for n in (0, 1)]
    assert written == {
        "dash/take 1.mpd", "dash/take 1_240pinit.mp4", "dash/take 1_aacinit.mp4", *segments, *captures,
    }  # fmt: skip
    done = result.only_xcom("transcode")
    # every object was checked; XCom names the manifest and the captures, not the segments
    assert done["objects"] == len(written)
    assert done["outputs"] == [f"s3://{out}/dash/take 1.mpd", *[f"s3://{out}/{k}" for k in captures]]
    logged = caplog.text + capsys.readouterr().out
    assert f"MediaConvert job {done['job_id']} COMPLETE for s3://{src}/clips/2024/take 1.mp4" in logged
    assert f"s3://{out}/dash/take 1_240pinit.mp4 (2 segments)" in logged
    assert f"s3://{out}/thumbs/take 1_thumb.0000000.jpg .. s3://{out}/thumbs/take 1_thumb.0000001.jpg" in logged

    # the job link opens the job on the local service, which answers with the job itself
    with create_session() as session:
        stored = (
            session.query(XComModel)
            .filter_by(dag_id=DAG_ID, run_id=result.run_id, task_id="transcode", key=MediaConvertJobLink.key)
            .one()
            .value
        )
    link = MediaConvertJobLink().format_link(**(stored if isinstance(stored, dict) else json.loads(stored)))
    assert link.startswith(local_stack.mediaconvert_endpoint)
    answer = requests.get(link, timeout=10)
    assert answer.status_code == 200 and answer.json()["job"]["id"] == done["job_id"]


def test_a_missing_segment_or_capture_fails_the_check_naming_it(
    airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path
):
    from airflow.sdk.exceptions import AirflowException

    from mediaflow.mediaconvert.operators import completed_outputs
    from tests.mediaconvert.local_jobs import ROLE, wait_for_status

    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "m.mp4", 2.0, width=320, height=240)), src, "m.mp4")
    mc = local_stack.boto3_client("mediaconvert")
    settings = _dash_and_thumbnails(out)
    settings["Inputs"][0]["FileInput"] = f"s3://{src}/m.mp4"
    job = wait_for_status(mc, mc.create_job(Role=ROLE, Settings=settings)["Job"]["Id"], {"COMPLETE", "ERROR"})
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")
    assert completed_outputs(job, "aws_default")["objects"] == 9

    s3.delete_object(Bucket=out, Key="dash/m_aac_000000002.mp4")
    s3.delete_object(Bucket=out, Key="thumbs/m_thumb.0000001.jpg")
    with pytest.raises(AirflowException) as err:
        completed_outputs(job, "aws_default")
    assert (
        f"is COMPLETE but 2 of its 9 outputs are not in S3: s3://{out}/dash/m_aac_000000002.mp4, "
        f"s3://{out}/thumbs/m_thumb.0000001.jpg."
    ) in str(err.value)
