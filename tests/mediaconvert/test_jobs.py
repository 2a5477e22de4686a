"""Pure request building for MediaConvert: templates, fitting, validation, output keys."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from mediaflow.mediaconvert.jobs import (
    AAC_BITRATES,
    JobSettingsError,
    NamingContext,
    SourceInfo,
    build_request,
    bundled_templates,
    capture_count,
    client_request_token,
    default_destination,
    expected_outputs,
    load_template,
    output_keys,
    segment_count,
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


# -- every output, named as MediaConvert names it ---------------------------------------------------
def _group(kind: str, member: str, destination: str, outputs: list, **settings) -> dict:
    return {"OutputGroupSettings": {"Type": kind, member: {"Destination": destination, **settings}}, "Outputs": outputs}


def _job(*groups: dict, file_input: str = "s3://in/up/clip.mov") -> dict:
    return {"Inputs": [{"FileInput": file_input}], "OutputGroups": list(groups)}


def _details(*durations_ms: list[int]) -> list[dict]:
    return [{"OutputDetails": [{"DurationInMs": d} for d in group]} for group in durations_ms]


VIDEO = {"VideoDescription": {"Width": 640, "Height": 360, "CodecSettings": {"Codec": "H_264", "H264Settings": {}}}}
AAC = {"AudioDescriptions": [{"CodecSettings": {"Codec": "AAC", "AacSettings": {"Bitrate": 96000}}}]}


def test_file_group_names_follow_extension_container_and_codec():
    settings = _job(
        _group("FILE_GROUP_SETTINGS", "FileGroupSettings", "s3://o/mp4/", [
            {**VIDEO, **AAC, "NameModifier": "_720p"},
            {**VIDEO, "NameModifier": "_mezz", "Extension": "qt", "ContainerSettings": {"Container": "MOV"}},
            {**AAC, "NameModifier": "_audio", "ContainerSettings": {"Container": "RAW"}},
            {"NameModifier": "_mp3", "ContainerSettings": {"Container": "RAW"},
             "AudioDescriptions": [{"CodecSettings": {"Codec": "MP3", "Mp3Settings": {}}}]},
            {"NameModifier": "-ENG", "ContainerSettings": {"Container": "RAW"},
             "CaptionDescriptions": [{"DestinationSettings": {"DestinationType": "WEBVTT"}}]},
        ]),
        _group("FILE_GROUP_SETTINGS", "FileGroupSettings", "s3://o/named/out", [{**VIDEO}]),
    )  # fmt: skip
    assert output_keys(settings) == [
        "s3://o/mp4/clip_720p.mp4",
        "s3://o/mp4/clip_mezz.qt",
        "s3://o/mp4/clip_audio.aac",
        "s3://o/mp4/clip_mp3.mp3",
        "s3://o/mp4/clip-ENG.vtt",
        "s3://o/named/out.mp4",
    ]


def test_frame_captures_are_counted_from_the_duration_and_capped():
    capture = {"ContainerSettings": {"Container": "RAW"}, "NameModifier": "_thumb", "VideoDescription": {
        "CodecSettings": {"Codec": "FRAME_CAPTURE", "FrameCaptureSettings": {"FramerateNumerator": 1, "FramerateDenominator": 5}}}}  # fmt: skip
    capped = json.loads(json.dumps(capture))
    capped["NameModifier"] = "_few"
    capped["VideoDescription"]["CodecSettings"]["FrameCaptureSettings"].update(FramerateNumerator=2, MaxCaptures=3)
    settings = _job(_group("FILE_GROUP_SETTINGS", "FileGroupSettings", "s3://o/t/", [capture, capped]))
    [group] = expected_outputs(settings, _details([12_400, 12_400]))
    assert group.complete
    assert [f.rsplit("/", 1)[1] for f in group.outputs[0].files] == [
        "clip_thumb.0000000.jpg", "clip_thumb.0000001.jpg", "clip_thumb.0000002.jpg",
    ]  # fmt: skip
    assert len(group.outputs[1].files) == 3
    [unknown] = expected_outputs(settings)  # GetJob without durations: only the first capture is certain
    assert not unknown.complete and [len(o.files) for o in unknown.outputs] == [1, 1]


def test_hls_names_master_playlists_and_numbered_segments():
    settings = _job(_group("HLS_GROUP_SETTINGS", "HlsGroupSettings", "s3://o/hls/main", [
        {**VIDEO, **AAC, "NameModifier": "_360", "OutputSettings": {"HlsSettings": {"SegmentModifier": "$dt$"}}},
        {**AAC, "NameModifier": "_audio"},
        {**AAC, "NameModifier": "_ts_audio", "OutputSettings": {"HlsSettings": {"AudioOnlyContainer": "M2TS"}}},
        {"NameModifier": "_en", "CaptionDescriptions": [{"DestinationSettings": {"DestinationType": "WEBVTT"}}]},
    ], SegmentLength=4))  # fmt: skip
    ctx = NamingContext(start_time=datetime(2024, 6, 4, 15, 5, 28, tzinfo=UTC))
    keys = output_keys(settings, _details([10_000] * 4), ctx)
    assert keys[:5] == [
        "s3://o/hls/main.m3u8",
        "s3://o/hls/main_360.m3u8",
        "s3://o/hls/main_audio.m3u8",
        "s3://o/hls/main_ts_audio.m3u8",
        "s3://o/hls/main_en.m3u8",
    ]
    assert keys[5:8] == [f"s3://o/hls/main_36020240604T150528_0000{n}.ts" for n in (1, 2, 3)]
    assert "s3://o/hls/main_audio_00003.aac" in keys and "s3://o/hls/main_ts_audio_00003.ts" in keys
    assert keys[-1] == "s3://o/hls/main_en_00001.vtt"  # captions come in 300 s segments by default


def test_hls_single_file_segments_only_and_a_short_last_segment():
    single = _job(_group("HLS_GROUP_SETTINGS", "HlsGroupSettings", "s3://o/", [{**VIDEO, "NameModifier": "_a"}],
                         SegmentControl="SINGLE_FILE"))  # fmt: skip
    assert output_keys(single) == ["s3://o/clip.m3u8", "s3://o/clip_a.m3u8", "s3://o/clip_a.ts"]
    only = _job(_group("HLS_GROUP_SETTINGS", "HlsGroupSettings", "s3://o/", [{**VIDEO, "NameModifier": "_a"}],
                       OutputSelection="SEGMENTS_ONLY", SegmentLength=6, MinFinalSegmentLength=2))  # fmt: skip
    assert output_keys(only, _details([12_900])) == ["s3://o/clip_a_00001.ts", "s3://o/clip_a_00002.ts"]
    assert output_keys(only, _details([14_000])) == [f"s3://o/clip_a_0000{n}.ts" for n in (1, 2, 3)]


def test_dash_and_cmaf_name_init_and_nine_digit_segments():
    outputs = [{**VIDEO, "NameModifier": "_720p"}, {**AAC, "NameModifier": "_aac"}]
    dash = _job(_group("DASH_ISO_GROUP_SETTINGS", "DashIsoGroupSettings", "s3://o/dash/", outputs, SegmentLength=30))
    assert output_keys(dash, _details([61_000, 61_000])) == [
        "s3://o/dash/clip.mpd",
        "s3://o/dash/clip_720pinit.mp4",
        *[f"s3://o/dash/clip_720p_00000000{n}.mp4" for n in (1, 2, 3)],
        "s3://o/dash/clip_aacinit.mp4",
        *[f"s3://o/dash/clip_aac_00000000{n}.mp4" for n in (1, 2, 3)],
    ]
    cmaf = _job(_group("CMAF_GROUP_SETTINGS", "CmafGroupSettings", "s3://o/cmaf/", outputs, SegmentLength=30))
    keys = output_keys(cmaf, _details([20_000, 20_000]))
    assert keys == [
        "s3://o/cmaf/clip.m3u8",
        "s3://o/cmaf/clip.mpd",
        "s3://o/cmaf/clip_720p.m3u8",
        "s3://o/cmaf/clip_aac.m3u8",
        "s3://o/cmaf/clip_720pinit.cmfv",
        "s3://o/cmaf/clip_720p_000000001.cmfv",
        "s3://o/cmaf/clip_aacinit.cmfa",
        "s3://o/cmaf/clip_aac_000000001.cmfa",
    ]
    cmaf["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"]["WriteHlsManifest"] = "DISABLED"
    assert not [k for k in output_keys(cmaf, _details([20_000, 20_000])) if k.endswith(".m3u8")]


def test_automated_abr_lists_only_what_can_be_named_in_advance():
    settings = _job(_group("CMAF_GROUP_SETTINGS", "CmafGroupSettings", "s3://o/abr/", [
        {**VIDEO, "NameModifier": "_video"}, {**AAC, "NameModifier": "_audio"}], SegmentLength=10))  # fmt: skip
    settings["OutputGroups"][0]["AutomatedEncodingSettings"] = {"AbrSettings": {"MaxRenditions": 4}}
    # OutputGroupDetails: three renditions where the video output was, then the audio output
    [group] = expected_outputs(settings, _details([25_000, 25_000, 25_000, 25_000]))
    assert not group.complete
    assert [o.output for o in group.outputs] == [1]
    assert group.outputs[0].segments[-1] == "s3://o/abr/clip_audio_000000003.cmfa"
    assert group.manifests == ["s3://o/abr/clip.m3u8", "s3://o/abr/clip.mpd"]


def test_format_identifiers_resolve_like_mediaconvert():
    output = {"NameModifier": "_$w$x$h$_$rv$k_$rc$_$f$fps_$ex$_$$", "ContainerSettings": {"Container": "MP4"},
              "VideoDescription": {"Height": 720, "CodecSettings": {"Codec": "H_264", "H264Settings": {
                  "RateControlMode": "QVBR", "MaxBitrate": 5_000_000}}}, **AAC}  # fmt: skip
    settings = _job(_group("FILE_GROUP_SETTINGS", "FileGroupSettings", "s3://o/$fn$/$d$/", [output]))
    ctx = NamingContext(start_time=datetime(2020, 6, 4, 15, 5, 28, tzinfo=UTC), width=1280, height=720, fps=29.97)
    assert output_keys(settings, None, ctx) == ["s3://o/clip/20200604/clip_1280x720_5000k_5096_29fps_mp4_$.mp4"]
    with pytest.raises(JobSettingsError, match=r"Destination uses \$d\$: the job's start time"):
        output_keys(settings)
    output["NameModifier"] = "_$Number$"
    with pytest.raises(JobSettingsError, match=r"NameModifier: format identifier \$Number\$"):
        output_keys(settings, None, ctx)


@pytest.mark.parametrize(
    ("duration", "length", "min_final", "count"),
    [(2.0, 2, 0, 1), (2.04, 2, 0, 2), (12.0, 6, 0, 2), (12.9, 6, 2, 2), (14.0, 6, 2, 3), (0.5, 10, 0, 1)],
)
def test_segment_count(duration, length, min_final, count):
    assert segment_count(duration, length, min_final) == count


def test_capture_count():
    assert (
        capture_count(185.0, {"FramerateNumerator": 1, "FramerateDenominator": 5}) == 37
    )  # the guide's file.0000036.jpg
    assert capture_count(2.0, {"FramerateNumerator": 30, "FramerateDenominator": 1}) == 60
    assert capture_count(2.0, {"FramerateNumerator": 30, "FramerateDenominator": 1, "MaxCaptures": 10}) == 10
