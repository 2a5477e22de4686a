"""The local MediaConvert service through an unmodified boto3 client over HTTP."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from mediaflow.mediaconvert.jobs import SourceInfo, build_request, load_template, validate_request
from tests.helpers import make_video

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


def test_unsupported_setting_is_refused_naming_the_field(mc, s3, make_bucket):
    request = _request("b-in", "x.mp4", "s3://b-out/")
    request["Settings"]["Inputs"][0]["DenoiseFilter"] = "ENABLED"
    with pytest.raises(mc.exceptions.BadRequestException, match=r"settings\.inputs\[0\]\.denoiseFilter"):
        mc.create_job(**request)
    request = _request("b-in", "x.mp4", "s3://b-out/")
    request["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]["CodecSettings"] = {
        "Codec": "H_265",
        "H265Settings": {"RateControlMode": "QVBR", "MaxBitrate": 1000000},
    }
    with pytest.raises(ClientError, match=r"codecSettings\.codec: value 'H_265'"):
        mc.create_job(**request)


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
