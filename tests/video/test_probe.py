"""Probe parsing (pure) and the ffprobe hook on real files made by ffmpeg."""

from __future__ import annotations

import pytest

from mediaflow.video.probe import NoVideoStreamError, ProbeError, parse_probe, parse_rate, rotation_of
from tests.helpers import make_audio_only, make_video


def _probe_json(*streams, duration="65.000000", format_name="mov,mp4,m4a,3gp,3g2,mj2"):
    return {"streams": list(streams), "format": {"format_name": format_name, "duration": duration}}


VIDEO = {"codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080, "avg_frame_rate": "30000/1001"}
AUDIO = {"codec_type": "audio", "codec_name": "aac"}


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("25/1", 25.0), ("30000/1001", 29.97), ("24000/1001", 23.976), ("0/0", None), ("", None), ("x", None)],
)
def test_parse_rate(rate, expected):
    assert parse_rate(rate) == expected


def test_landscape_with_audio():
    info = parse_probe(_probe_json(VIDEO, AUDIO))
    assert (info.width, info.height, info.fps, info.duration) == (1920, 1080, 29.97, 65.0)
    assert info.audio and info.audio_codec == "aac" and info.video_codec == "h264"


@pytest.mark.parametrize(
    ("stream_extra", "rotation", "size"),
    [
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 270, (1080, 1920)),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}]}, 90, (1080, 1920)),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 180}]}, 180, (1920, 1080)),
        ({"tags": {"rotate": "90"}}, 90, (1080, 1920)),
        ({}, 0, (1920, 1080)),
    ],
)
def test_rotation_swaps_display_size(stream_extra, rotation, size):
    stream = {**VIDEO, **stream_extra}
    assert rotation_of(stream) == rotation
    info = parse_probe(_probe_json(stream))
    assert (info.width, info.height) == size
    assert not info.audio


def test_cover_art_is_not_the_video_stream():
    cover = {**VIDEO, "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}
    info = parse_probe(_probe_json(AUDIO, cover))
    assert not info.has_video
    with pytest.raises(NoVideoStreamError, match=r"s3://b/song\.m4a has no video stream"):
        info.require_video("s3://b/song.m4a")


def test_avg_frame_rate_missing_falls_back_to_r_frame_rate():
    info = parse_probe(_probe_json({**VIDEO, "avg_frame_rate": "0/0", "r_frame_rate": "25/1"}))
    assert info.fps == 25.0


def test_empty_output_is_a_probe_error():
    with pytest.raises(ProbeError):
        parse_probe({})


# -- the hook on real media -------------------------------------------------------------------------
def test_hook_probes_real_files(tmp_path, ffmpeg_bin):
    from mediaflow.video.hook import FfmpegHook

    hook = FfmpegHook()
    info = hook.probe(str(make_video(tmp_path / "a.mkv", 1, width=160, height=120, fps=24)))
    assert (info.width, info.height, info.fps, info.audio) == (160, 120, 24.0, True)
    assert "matroska" in info.container

    audio_only = hook.probe(str(make_audio_only(tmp_path / "a.m4a", 1)))
    with pytest.raises(NoVideoStreamError, match="has no video stream"):
        audio_only.require_video("s3://media/a.m4a")

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(ProbeError, match=r"ffprobe cannot read s3://media/corrupt\.mp4") as err:
        hook.probe(str(corrupt), label="s3://media/corrupt.mp4")
    assert str(corrupt) not in str(err.value)
