"""The local MediaConvert service through an unmodified boto3 client over HTTP."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from include.local_stack import mediaconvert_support as support
from mediaflow.mediaconvert.jobs import SourceInfo, build_request, load_template, output_keys, validate_request
from tests.helpers import ROOT, make_video, run_dag

ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"


@pytest.fixture
def mc(local_stack):
    return local_stack.boto3_client("mediaconvert")


def _wait(mc, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = mc.get_job(Id=job_id)["Job"]
        if job["Status"] in ("COMPLETE", "ERROR", "CANCELED"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def _request(bucket: str, key: str, dest: str, **kw) -> dict:
    request = build_request(
        load_template("mp4_renditions"), input_uri=f"s3://{bucket}/{key}", destination=dest, role_arn=ROLE,
        source=SourceInfo(320, 240, True), **kw,
    )  # fmt: skip
    validate_request(request)
    return request


def test_endpoints_and_unknown_job(mc, local_stack):
    assert mc.describe_endpoints()["Endpoints"] == [{"Url": local_stack.mediaconvert_endpoint}]
    with pytest.raises(mc.exceptions.NotFoundException, match="no-such-job"):
        mc.get_job(Id="no-such-job")


def test_a_refusal_lists_every_setting_it_cannot_honour(mc):
    request = _request("b-in", "x.mp4", "s3://b-out/")
    settings = request["Settings"]
    settings["Inputs"][0]["DenoiseFilter"] = "ENABLED"
    settings["NielsenConfiguration"] = {"BreakoutCode": 0, "DistributorId": "d"}
    aac = settings["OutputGroups"][0]["Outputs"][0]["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]
    aac["CodecProfile"] = "HEV1"
    with pytest.raises(mc.exceptions.BadRequestException) as err:
        mc.create_job(**request)
    message = str(err.value)
    assert "change or remove these 3 settings" in message
    assert "/inputs/0/denoiseFilter: ENABLED is not supported by the local service" in message
    assert "/nielsenConfiguration: not supported by the local service" in message
    assert "/outputGroups/0/outputs/0/audioDescriptions/0/codecSettings/aacSettings/codecProfile: HEV1" in message
    assert "libfdk_aac" in message  # says why, and what to use instead
    inputs = [j["Settings"]["Inputs"][0]["FileInput"] for j in mc.list_jobs(MaxResults=20)["Jobs"]]
    assert "s3://b-in/x.mp4" not in inputs


def test_defaults_and_no_op_values_are_accepted(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "d.mp4", 1.0, width=320, height=240)), src, "d.mp4")
    request = _request(src, "d.mp4", f"s3://{out}/")
    settings = request["Settings"]
    settings["AdAvailOffset"] = 0
    settings["Inputs"][0].update(FilterEnable="AUTO", PsiControl="USE_PSI", FilterStrength=0, DeblockFilter="DISABLED")
    settings["Inputs"][0]["AudioSelectors"]["Audio Selector 1"].update(Offset=0, ProgramSelection=1, Tracks=[1])
    settings["Inputs"][0]["AudioSelectors"]["Audio Selector 2"] = {"DefaultSelection": "NOT_DEFAULT", "Tracks": [2]}
    [output] = settings["OutputGroups"][0]["Outputs"]  # the one rendition that fits a 320x240 source
    output["VideoDescription"].update(AntiAlias="ENABLED", Sharpness=50, ColorMetadata="INSERT", AfdSignaling="NONE")
    output["VideoDescription"]["CodecSettings"]["H264Settings"].update(InterlaceMode="PROGRESSIVE", Syntax="DEFAULT")
    output["AudioDescriptions"][0]["CodecSettings"]["AacSettings"].update(RawFormat="NONE", Specification="MPEG4")
    output["ContainerSettings"]["Mp4Settings"].update(CslgAtom="INCLUDE", FreeSpaceBox="EXCLUDE")
    job = _wait(mc, mc.create_job(**request)["Job"]["Id"])
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=out)["Contents"]] == ["d_480p.mp4"]


def test_client_request_token_returns_the_same_job(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "t.mp4", 1.0, width=320, height=240)), src, "t.mp4")
    request = _request(src, "t.mp4", f"s3://{out}/", client_request_token="mediaflow-token-1")
    first = mc.create_job(**request)["Job"]
    again = mc.create_job(**request)["Job"]
    assert again["Id"] == first["Id"]
    other = dict(request, Queue="Other")
    with pytest.raises(mc.exceptions.ConflictException, match="mediaflow-token-1"):
        mc.create_job(**other)
    job = _wait(mc, first["Id"])
    assert job["Status"] == "COMPLETE"
    assert job["OutputGroupDetails"][0]["OutputDetails"][0]["VideoDetails"] == {"WidthInPx": 320, "HeightInPx": 240}
    assert [j["Id"] for j in mc.list_jobs(Status="COMPLETE", MaxResults=20)["Jobs"]].count(first["Id"]) == 1


def test_job_template_crud_and_a_job_from_a_named_template(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "n.mp4", 1.0, width=320, height=240, audio=False)), src, "n.mp4")
    settings = _request(src, "n.mp4", f"s3://{out}/named/")["Settings"]
    group = settings["OutputGroups"][0]
    group["Outputs"] = group["Outputs"][:1]
    del group["Outputs"][0]["AudioDescriptions"]
    del settings["Inputs"][0]["AudioSelectors"]
    del settings["Inputs"][0]["FileInput"]  # a job template has no input file
    name = f"mediaflow-test-{int(time.time() * 1000)}"
    created = mc.create_job_template(Name=name, Settings=settings, Category="test")["JobTemplate"]
    assert created["Arn"].endswith(f"jobTemplates/{name}")
    assert name in [t["Name"] for t in mc.list_job_templates(Category="test")["JobTemplates"]]
    with pytest.raises(mc.exceptions.ConflictException):
        mc.create_job_template(Name=name, Settings=settings)
    mc.update_job_template(Name=name, Description="one 480p output")
    assert mc.get_job_template(Name=name)["JobTemplate"]["Description"] == "one 480p output"

    request = build_request(
        None, input_uri=f"s3://{src}/n.mp4", destination="s3://unused/", role_arn=ROLE, job_template_name=name
    )
    job = _wait(mc, mc.create_job(**request)["Job"]["Id"])
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=out)["Contents"]] == ["named/n_480p.mp4"]

    mc.delete_job_template(Name=name)
    with pytest.raises(mc.exceptions.NotFoundException):
        mc.get_job_template(Name=name)


def test_audio_outputs_on_a_silent_input_fail_like_mediaconvert(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "s.mp4", 1.0, width=320, height=240, audio=False)), src, "s.mp4")
    job = _wait(mc, mc.create_job(**_request(src, "s.mp4", f"s3://{out}/"))["Job"]["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1040
    assert "Invalid audio track specified for audio_selector" in job["ErrorMessage"]


def test_cancel_a_running_job(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "c.mp4", 4.0, width=1280, height=720)), src, "c.mp4")
    request = build_request(
        load_template("mp4_hls_renditions"), input_uri=f"s3://{src}/c.mp4", destination=f"s3://{out}/", role_arn=ROLE
    )
    job_id = mc.create_job(**request)["Job"]["Id"]
    mc.cancel_job(Id=job_id)
    job = _wait(mc, job_id)
    assert job["Status"] == "CANCELED"
    with pytest.raises(mc.exceptions.BadRequestException, match="CANCELED"):
        mc.cancel_job(Id=job_id)
    time.sleep(1)
    assert s3.list_objects_v2(Bucket=out)["KeyCount"] == 0


def test_a_job_in_a_paused_queue_waits_until_the_queue_is_active(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "q.mp4", 1.0, width=320, height=240)), src, "q.mp4")
    queue = mc.create_queue(Name="held-for-review", Status="PAUSED", Description="review first")["Queue"]
    assert (queue["Type"], queue["Status"], queue["PricingPlan"]) == ("CUSTOM", "PAUSED", "ON_DEMAND")
    with pytest.raises(mc.exceptions.ConflictException, match="held-for-review"):
        mc.create_queue(Name="held-for-review")
    job_id = mc.create_job(**_request(src, "q.mp4", f"s3://{out}/"), Queue="held-for-review")["Job"]["Id"]
    time.sleep(2)  # long enough for an idle pool to have started it, were the queue not paused
    job = mc.get_job(Id=job_id)["Job"]
    assert (job["Status"], job["Queue"]) == ("SUBMITTED", queue["Arn"])
    assert mc.get_queue(Name="held-for-review")["Queue"]["SubmittedJobsCount"] == 1
    with pytest.raises(mc.exceptions.ConflictException, match="not ended"):
        mc.delete_queue(Name="held-for-review")

    assert mc.update_queue(Name="held-for-review", Status="ACTIVE")["Queue"]["Status"] == "ACTIVE"
    assert _wait(mc, job_id)["Status"] == "COMPLETE"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=out)["Contents"]] == ["q_480p.mp4"]
    counts = mc.get_queue(Name="held-for-review")["Queue"]
    assert (counts["SubmittedJobsCount"], counts["ProgressingJobsCount"]) == (0, 0)
    listed = {q["Name"]: q["Type"] for q in mc.list_queues(MaxResults=20)["Queues"]}
    assert listed["Default"] == "SYSTEM" and listed["held-for-review"] == "CUSTOM"
    with pytest.raises(mc.exceptions.BadRequestException, match="default queue"):
        mc.delete_queue(Name="Default")
    mc.delete_queue(Name="held-for-review")
    with pytest.raises(mc.exceptions.NotFoundException, match="held-for-review"):
        mc.get_queue(Name="held-for-review")


def test_get_job_reports_progress_while_running_and_details_when_complete(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "p.mp4", 3.0, width=1280, height=720)), src, "p.mp4")
    request = build_request(
        load_template("mp4_hls_renditions"), input_uri=f"s3://{src}/p.mp4", destination=f"s3://{out}/", role_arn=ROLE,
        source=SourceInfo(1280, 720, True),
    )  # fmt: skip
    job_id = mc.create_job(**request)["Job"]["Id"]
    seen = []
    while (job := mc.get_job(Id=job_id)["Job"])["Status"] in ("SUBMITTED", "PROGRESSING"):
        if job["Status"] == "PROGRESSING":
            seen.append((job["CurrentPhase"], job["JobPercentComplete"]))
        time.sleep(0.05)
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")
    assert seen, "GetJob never reported the job PROGRESSING"
    assert {phase for phase, _ in seen} <= {"PROBING", "TRANSCODING", "UPLOADING"}
    percents = [p for _, p in seen]
    assert percents == sorted(percents) and all(0 <= p <= 100 for p in percents)
    assert "JobPercentComplete" not in job and "CurrentPhase" not in job
    groups = job["OutputGroupDetails"]
    assert [len(g["OutputDetails"]) for g in groups] == [2, 2]  # 720p and 480p in each group
    for detail in (d for g in groups for d in g["OutputDetails"]):
        assert abs(detail["DurationInMs"] - 3000) <= 40
    assert [d["VideoDetails"]["HeightInPx"] for d in groups[1]["OutputDetails"]] == [720, 480]
    assert job["Timing"]["StartTime"] <= job["Timing"]["FinishTime"]
    assert job_id in [j["Id"] for j in mc.list_jobs(Status="COMPLETE", Order="DESCENDING", MaxResults=5)["Jobs"]]


def test_an_input_that_is_not_there_fails_with_1010(mc, s3, make_bucket):
    src, out = make_bucket("in"), make_bucket("out")
    job = _wait(mc, mc.create_job(**_request(src, "missing.mp4", f"s3://{out}/"))["Job"]["Id"])
    assert job["Status"] == "ERROR" and job["ErrorCode"] == 1010
    assert f"s3://{src}/missing.mp4" in job["ErrorMessage"]
    assert "OutputGroupDetails" not in job


def test_segments_fragments_and_a_short_last_segment(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    """2.4 s cut in 1 s segments: HLS joins the 0.4 s tail (MinFinalSegmentLength 0.5); DASH and CMAF
    keep it, with 0.5 s fragments inside each segment."""
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "s.mp4", 2.4, width=320, height=180)), src, "s.mp4")
    video = {"Width": 320, "Height": 180, "CodecSettings": {"Codec": "H_264", "H264Settings": {
        "RateControlMode": "QVBR", "MaxBitrate": 800000, "GopSize": 25, "GopSizeUnits": "FRAMES"}}}  # fmt: skip
    audio = [{"CodecSettings": {"Codec": "AAC", "AacSettings": {"Bitrate": 64000, "CodingMode": "CODING_MODE_2_0",
                                                              "SampleRate": 48000}}}]  # fmt: skip

    def group(kind, member, folder, container, combined, **extra):
        outputs = [{"NameModifier": "_av", "ContainerSettings": {"Container": container}, "VideoDescription": video,
                    "AudioDescriptions": audio}] if combined else [
            {"NameModifier": "_v", "ContainerSettings": {"Container": container}, "VideoDescription": video},
            {"NameModifier": "_a", "ContainerSettings": {"Container": container}, "AudioDescriptions": audio}]  # fmt: skip
        settings = {"Destination": f"s3://{out}/{folder}/", "SegmentLength": 1, **extra}
        return {"OutputGroupSettings": {"Type": kind, member: settings}, "Outputs": outputs}

    settings = {
        "Inputs": [{"FileInput": f"s3://{src}/s.mp4", "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}}],
        "OutputGroups": [
            group("HLS_GROUP_SETTINGS", "HlsGroupSettings", "hls", "M3U8", True, MinFinalSegmentLength=0.5),
            group("DASH_ISO_GROUP_SETTINGS", "DashIsoGroupSettings", "dash", "MPD", False, FragmentLength=1,
                  SegmentControl="SEGMENTED_FILES"),
            group("CMAF_GROUP_SETTINGS", "CmafGroupSettings", "cmaf", "CMFC", False, FragmentLength=1,
                  SegmentControl="SEGMENTED_FILES"),
        ],
    }  # fmt: skip
    job = _wait(mc, mc.create_job(Role=ROLE, Settings=settings)["Job"]["Id"])
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=out)["Contents"]}
    assert {k for k in keys if k.startswith("hls/") and k.endswith(".ts")} == {"hls/s_av_00001.ts", "hls/s_av_00002.ts"}
    playlist = s3.get_object(Bucket=out, Key="hls/s_av.m3u8")["Body"].read().decode()
    assert [float(v) for v in re.findall(r"#EXTINF:([0-9.]+),", playlist)] == [1.0, 1.4]
    for folder, ext in (("dash", "mp4"), ("cmaf", "cmfv")):
        assert {f"{folder}/s_v_00000000{n}.{ext}" for n in (1, 2, 3)} <= keys
        assert f"{folder}/s_vinit.{ext}" in keys
    mpd = s3.get_object(Bucket=out, Key="dash/s.mpd")["Body"].read().decode()
    assert mpd.count("<S ") == 6  # three segments for the video, three for the audio
    assert set(output_keys(job["Settings"], job["OutputGroupDetails"])) == {f"s3://{out}/{k}" for k in keys}


def test_the_deinterlacer_turns_interlaced_frames_progressive(mc, s3, make_bucket, ffmpeg_bin, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    interlaced = tmp_path / "i.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=50", "-t", "1", "-vf",
         "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "libx264", "-preset", "ultrafast", "-flags",
         "+ildct+ilme", "-x264-params", "tff=1", "-pix_fmt", "yuv420p", str(interlaced)],
        check=True,
    )  # fmt: skip
    s3.upload_file(str(interlaced), src, "i.mp4")
    h264 = {"RateControlMode": "QVBR", "MaxBitrate": 2000000}

    def output(modifier, preprocessors):
        vd = {"Width": 320, "Height": 240, "CodecSettings": {"Codec": "H_264", "H264Settings": h264}}
        return {"NameModifier": modifier, "VideoDescription": {**vd, **preprocessors}}

    settings = {
        "Inputs": [{"FileInput": f"s3://{src}/i.mp4"}],
        "OutputGroups": [{"OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": {
            "Destination": f"s3://{out}/"}}, "Outputs": [
                output("_as_is", {}),
                output("_deinterlaced", {"VideoPreprocessors": {"Deinterlacer": {"Mode": "DEINTERLACE",
                                                                                  "Algorithm": "INTERPOLATE"}}}),
            ]}],
    }  # fmt: skip
    job = _wait(mc, mc.create_job(Role=ROLE, Settings=settings)["Job"]["Id"])
    assert job["Status"] == "COMPLETE", job.get("ErrorMessage")

    def detected(name):
        s3.download_file(out, name, str(tmp_path / name))
        log = subprocess.run(
            ["ffmpeg", "-nostats", "-i", str(tmp_path / name), "-vf", "idet", "-an", "-f", "null", "-"],
            capture_output=True, text=True, check=True,
        ).stderr  # fmt: skip
        tff, bff, progressive = re.search(
            r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)", log
        ).groups()
        return int(tff) + int(bff), int(progressive)

    combed, progressive = detected("i_as_is.mp4")
    assert combed > 15 and progressive <= 2  # every picture still carries two fields
    combed, progressive = detected("i_deinterlaced.mp4")
    assert progressive > 3 * combed  # idet still calls a few sharp-edged frames combed


def test_a_job_template_created_through_the_api_runs_through_the_dag(
    airflow_db, local_stack, mc, s3, make_bucket, ffmpeg_bin, tmp_path
):
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "t.mp4", 1.0, width=640, height=360)), src, "up/t.mp4")
    name = f"mediaflow-dag-{time.time_ns()}"
    settings = {
        "Inputs": [{"AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}, "TimecodeSource": "ZEROBASED"}],
        "OutputGroups": [
            {"OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS", "HlsGroupSettings": {
                "Destination": f"s3://{out}/ladder/", "SegmentLength": 6}},
             "Outputs": [{"NameModifier": "_360p", "ContainerSettings": {"Container": "M3U8"},
                          "VideoDescription": {"Width": 640, "Height": 360, "CodecSettings": {"Codec": "H_264",
                              "H264Settings": {"RateControlMode": "QVBR", "MaxBitrate": 1500000}}},
                          "AudioDescriptions": [{"CodecSettings": {"Codec": "AAC", "AacSettings": {
                              "Bitrate": 96000, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000}}}]}]},
        ],
    }  # fmt: skip
    mc.create_job_template(Name=name, Settings=settings)

    result = run_dag(
        "mediaconvert_transcode",
        {"bucket": src, "key": "up/t.mp4", "job_template_name": name, "destination": f"s3://{out}/unused/"},
    )

    assert result.state == "success", result.task_states
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=out)["Contents"]}
    assert {"ladder/t.m3u8", "ladder/t_360p.m3u8", "ladder/t_360p_00001.ts"} <= keys
    [job] = [j for j in mc.list_jobs(MaxResults=20)["Jobs"] if j.get("JobTemplate") == name]
    assert job["Status"] == "COMPLETE"
    assert job["UserMetadata"]["dag_id"] == "mediaconvert_transcode"


def test_every_table_entry_names_a_real_setting_and_says_why_it_is_ignored():
    for path, entry in support.SETTINGS.items():
        assert support.wire_path(path), path  # raises KeyError for a member botocore's model lacks
        assert entry.honoured or entry.ignored or entry.refused, path
        if entry.ignored:
            assert entry.why, f"{path} is ignored without a reason"
    assert support.SETTINGS["Inputs[].AudioSelectors.*.Offset"].verdict(0)[0] == "honoured"
    assert support.SETTINGS["AdAvailOffset"].verdict(0) == ("ignored", support.SETTINGS["AdAvailOffset"].why)
    assert support.SETTINGS["AdAvailOffset"].verdict(5)[0] == "refused"


def test_the_docs_page_shows_the_current_tables():
    page = (ROOT / "docs" / "dags" / "mediaconvert_transcode.md").read_text()
    assert support.doc_section() in page, "run `python -m include.local_stack.mediaconvert_support` to update the page"
