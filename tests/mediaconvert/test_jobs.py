"""Pure request building for MediaConvert: templates, fitting, validation, output keys."""

from __future__ import annotations

import copy
import json

import pytest

from mediaflow.mediaconvert.jobs import (
    AAC_BITRATES,
    JobSettingsError,
    SourceInfo,
    build_request,
    bundled_templates,
    client_request_token,
    default_destination,
    load_template,
    output_keys,
    validate_request,
)

ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"


def _request(name="mp4_renditions", source=None, **kw):
    return build_request(
        load_template(name), input_uri="s3://in/up/clip.mov", destination="s3://out/clip/", role_arn=ROLE,
        source=source, **kw,
    )  # fmt: skip


def _outputs(request):
    return [o for g in request["Settings"]["OutputGroups"] for o in g["Outputs"]]


def test_both_templates_are_bundled():
    assert {"mp4_renditions", "mp4_hls_renditions"} <= set(bundled_templates())


@pytest.mark.parametrize("name", bundled_templates())
@pytest.mark.parametrize(
    "source", [None, SourceInfo(1920, 1080, True), SourceInfo(640, 360, False), SourceInfo(1280, 720, True)]
)
def test_every_bundled_template_validates_against_botocore(name, source):
    request = _request(name, source, queue="Default", user_metadata={"dag_id": "d"}, client_request_token="t" * 32)
    validate_request(request)
    for output in _outputs(request):
        h264 = output["VideoDescription"]["CodecSettings"]["H264Settings"]
        assert h264["RateControlMode"] == "QVBR" and h264["MaxBitrate"] > 0
        for audio in output.get("AudioDescriptions", []):
            aac = audio["CodecSettings"]["AacSettings"]
            assert aac["SampleRate"] == 48000 and aac["Bitrate"] in AAC_BITRATES


def test_default_template_has_three_mp4_renditions():
    sizes = [(o["VideoDescription"]["Width"], o["VideoDescription"]["Height"]) for o in _outputs(_request())]
    assert sizes == [(1920, 1080), (1280, 720), (854, 480)]
    assert output_keys(_request()["Settings"]) == [
        "s3://out/clip/clip_1080p.mp4",
        "s3://out/clip/clip_720p.mp4",
        "s3://out/clip/clip_480p.mp4",
    ]


def test_renditions_taller_than_the_source_are_dropped():
    request = _request(source=SourceInfo(1280, 720, True))
    assert [o["NameModifier"] for o in _outputs(request)] == ["_720p", "_480p"]


def test_a_source_below_every_rendition_keeps_the_smallest_scaled_to_the_source():
    request = _request(source=SourceInfo(640, 360, True))
    [only] = _outputs(request)
    assert only["NameModifier"] == "_480p"
    assert (only["VideoDescription"]["Width"], only["VideoDescription"]["Height"]) == (640, 360)


def test_silent_source_gets_no_audio_outputs_or_selectors():
    request = _request("mp4_hls_renditions", SourceInfo(1920, 1080, False))
    assert all("AudioDescriptions" not in o for o in _outputs(request))
    assert "AudioSelectors" not in request["Settings"]["Inputs"][0]
    assert len(_outputs(request)) == 6


def test_template_is_not_modified_by_building():
    template = load_template("mp4_renditions")
    before = copy.deepcopy(template)
    build_request(
        template, input_uri="s3://a/b.mp4", destination="s3://c/", role_arn=ROLE, source=SourceInfo(320, 240, False)
    )
    assert template == before


def test_hls_outputs_go_under_the_relative_folder_with_a_master_playlist():
    keys = output_keys(_request("mp4_hls_renditions")["Settings"])
    assert keys[3:] == [
        "s3://out/clip/hls/clip.m3u8",
        "s3://out/clip/hls/clip_1080p.m3u8",
        "s3://out/clip/hls/clip_720p.m3u8",
        "s3://out/clip/hls/clip_480p.m3u8",
    ]


def test_destination_without_trailing_slash_names_the_outputs():
    settings = {
        "Inputs": [{"FileInput": "s3://in/a/b.mp4"}],
        "OutputGroups": [
            {
                "OutputGroupSettings": {
                    "Type": "FILE_GROUP_SETTINGS",
                    "FileGroupSettings": {"Destination": "s3://o/p/movie"},
                },
                "Outputs": [{"NameModifier": "_x", "ContainerSettings": {"Container": "MOV"}, "Extension": "qt"}],
            }
        ],
    }
    assert output_keys(settings) == ["s3://o/p/movie_x.qt"]


def test_job_template_name_sends_only_the_input():
    request = build_request(
        None, input_uri="s3://in/a.mp4", destination="s3://o/", role_arn=ROLE, job_template_name="Ladder",
        source=SourceInfo(1920, 1080, False),
    )  # fmt: skip
    assert request["JobTemplate"] == "Ladder"
    assert request["Settings"] == {"Inputs": [{"FileInput": "s3://in/a.mp4"}]}
    validate_request(request)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["RateControlMode"], "QVBR_PLUS", "H264Settings.RateControlMode: 'QVBR_PLUS' is not one of"),
        (["MaxBitrate"], None, "H264Settings.MaxBitrate is required with QVBR"),
        (["MaxBitrate"], "fast", "Invalid type for parameter Settings.OutputGroups[0].Outputs[0]"),
        (
            ["Smoothness"],
            3,
            'Unknown parameter in Settings.OutputGroups[0].Outputs[0].VideoDescription.CodecSettings.H264Settings: "Smoothness"',
        ),
    ],
)
def test_bad_template_fields_are_named(path, value, expected):
    request = _request()
    h264 = _outputs(request)[0]["VideoDescription"]["CodecSettings"]["H264Settings"]
    if value is None:
        h264.pop(path[0])
    else:
        h264[path[0]] = value
    with pytest.raises(JobSettingsError) as err:
        validate_request(request)
    assert expected in str(err.value)


def test_aac_bitrate_outside_the_allowed_set_is_refused():
    request = _request()
    _outputs(request)[1]["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]["Bitrate"] = 100000
    with pytest.raises(
        JobSettingsError, match=r"Outputs\[1\].AudioDescriptions\[0\].CodecSettings.AacSettings.Bitrate: 100000"
    ):
        validate_request(request)


def test_missing_role_is_named():
    request = _request()
    del request["Role"]
    with pytest.raises(JobSettingsError, match='Missing required parameter in input: "Role"'):
        validate_request(request)


def test_unknown_or_broken_template_names_the_choices(tmp_path, monkeypatch):
    with pytest.raises(JobSettingsError, match="mp4_renditions"):
        load_template("nope")
    monkeypatch.setenv("MEDIAFLOW_MEDIACONVERT_TEMPLATES", str(tmp_path))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(JobSettingsError, match="not valid JSON"):
        load_template("bad")
    (tmp_path / "empty.json").write_text(json.dumps({"Description": "x"}))
    with pytest.raises(JobSettingsError, match="'Settings'"):
        load_template("empty")


def test_client_request_token_is_stable_per_run_and_input():
    a = client_request_token("dag", "run1", "transcode", 0, "s3://b/k.mp4", '"etag"')
    assert a == client_request_token("dag", "run1", "transcode", 0, "s3://b/k.mp4", '"etag"')
    assert a != client_request_token("dag", "run2", "transcode", 0, "s3://b/k.mp4", '"etag"')
    assert a != client_request_token("dag", "run1", "transcode", 0, "s3://b/k.mp4", '"other"')
    assert len(a) <= 64


def test_default_destination_uses_the_key_stem():
    assert default_destination("mediaflow-renditions", "uploads/My Clip.final.mp4") == (
        "s3://mediaflow-renditions/My Clip.final/"
    )
