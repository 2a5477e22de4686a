"""Probe parsing (pure) and the ffprobe hook on real files made by ffmpeg."""

from __future__ import annotations

import pytest

from mediaflow.video.probe import (
    SHORTFALL_TOLERANCE,
    TAIL_SECONDS,
    EmptyMediaError,
    IncompleteMediaError,
    NotMediaError,
    NoVideoStreamError,
    ProbeError,
    is_not_media,
    locate_end,
    parse_probe,
    parse_rate,
    require_bytes,
    require_complete,
    rotation_of,
    tail_start,
)
from tests.helpers import cut_short, make_audio_only, make_bad_media, make_video


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


# -- completeness: what the container declares against what decodes ------------------------------
def test_declared_length_comes_from_the_containers_that_record_it():
    mp4 = parse_probe(_probe_json({**VIDEO, "start_time": "0.021", "duration": "19.986", "nb_frames": "599"}))
    assert (mp4.declared_end, mp4.declared_frames) == (20.007, 599)
    mkv = parse_probe(_probe_json({**VIDEO, "tags": {"DURATION": "00:01:05.040000000"}}, format_name="matroska,webm"))
    assert (mkv.declared_end, mkv.declared_frames) == (65.04, None)
    # an AVI cut short re-estimates its duration from what is left; its header's frame count stays
    avi = parse_probe(
        _probe_json({**VIDEO, "avg_frame_rate": "25/1", "duration": "18.0", "nb_frames": "500"}, format_name="avi")
    )
    assert (avi.declared_end, avi.declared_frames) == (20.0, 500)
    # MPEG-TS is measured from its own packets: a cut one declares only what it holds
    assert parse_probe(_probe_json({**VIDEO, "duration": "12.0"}, format_name="mpegts")).declared_end is None
    # no length on the stream: the container's
    assert parse_probe(_probe_json(VIDEO, duration="65.000000")).declared_end == 65.0


def test_a_video_whose_frames_reach_the_declared_end_is_complete():
    info = parse_probe(_probe_json({**VIDEO, "duration": "20.0", "nb_frames": "600"}))
    require_complete(info, 20.0, "s3://b/v.mp4")
    require_complete(info, 20.0 - SHORTFALL_TOLERANCE, "s3://b/v.mp4")
    assert tail_start(info) == 20.0 - TAIL_SECONDS


@pytest.mark.parametrize(
    ("decoded", "expected"),
    [
        (
            9.56,
            r"declares 20\.00 s of video \(600 frames\) but its frames stop at 9\.56 s \(about 313 frames missing\)",
        ),
        (None, r"declares 20\.00 s of video \(600 frames\) but not one frame decodes"),
    ],
)
def test_a_video_cut_short_is_refused_naming_the_object_and_the_shortfall(decoded, expected):
    info = parse_probe(_probe_json({**VIDEO, "duration": "20.0", "nb_frames": "600"}))
    with pytest.raises(IncompleteMediaError, match=expected) as err:
        require_complete(info, decoded, "s3://media/uploads/take 3.mp4", size=1_000_033)
    assert str(err.value).startswith("s3://media/uploads/take 3.mp4 (1000033 bytes) is incomplete")
    assert "upload the complete file again" in str(err.value)


def test_nothing_is_judged_without_a_declared_length():
    info = parse_probe(_probe_json({**VIDEO, "duration": "12.0"}, format_name="mpegts"))
    require_complete(info, None, "s3://b/v.ts")


def test_an_empty_object_is_refused_by_its_size():
    require_bytes(1, "s3://b/v.mp4")
    with pytest.raises(EmptyMediaError, match=r"s3://b/v\.mp4 is empty \(0 bytes\)"):
        require_bytes(0, "s3://b/v.mp4")


def test_ffprobes_words_for_bytes_that_are_not_media():
    assert is_not_media(
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found\nx: Invalid data found when processing input"
    )
    assert not is_not_media("Server returned 403 Forbidden (access denied)")
    assert not is_not_media("Connection refused")


def test_locate_end_bisects_to_where_the_frames_stop():
    """`decoded` answers as ffprobe does on a file whose frames stop at 4321.5 s: reading from
    the keyframe before `start` (every 10 s) up to `start + length`."""
    cut, reads = 4321.5, []

    def decoded(start, length):
        reads.append((start, length))
        keyframe = start - start % 10
        return None if keyframe >= cut else min(cut, start + length)

    assert locate_end(decoded, upper=7197.0) == cut
    assert len(reads) <= 14, "a dozen short reads, not a scan of the file"
    assert all(length <= 10 for _start, length in reads), reads
    assert locate_end(lambda start, length: None, upper=17.0) is None


# -- completeness on real files ---------------------------------------------------------------------
def test_hook_refuses_real_files_cut_short_and_passes_whole_ones(tmp_path, ffmpeg_bin):
    from mediaflow.video.hook import FfmpegHook

    hook = FfmpegHook()
    whole = {
        "faststart.mp4": make_video(tmp_path / "faststart.mp4", 20, width=160, height=120, fps=25, faststart=True),
        "clip.mkv": make_video(tmp_path / "clip.mkv", 20, width=160, height=120, fps=30, gop=60),
        "clip.mov": make_video(tmp_path / "clip.mov", 20, width=160, height=120, fps=24, audio=False),
    }
    for name, path in whole.items():
        info = hook.probe(str(path), label=name)
        hook.check_complete(str(path), info, label=name)  # complete: no error

    half = cut_short(whole["faststart.mp4"])
    info = hook.probe(str(half), label="s3://media/faststart.mp4")
    assert info.declared_end == 20.0, "the index written first still promises 20 s"
    with pytest.raises(IncompleteMediaError) as err:
        hook.check_complete(str(half), info, label="s3://media/faststart.mp4")
    message = str(err.value)
    assert message.startswith("s3://media/faststart.mp4 is incomplete: its container declares 20.00 s of video")
    stop = float(message.split("its frames stop at ")[1].split(" s")[0])
    assert 2.0 < stop < 18.0, message

    mkv = cut_short(whole["clip.mkv"], keep=0.8)
    with pytest.raises(IncompleteMediaError, match=r"s3://media/clip\.mkv is incomplete"):
        hook.check_complete(str(mkv), hook.probe(str(mkv), label="clip.mkv"), label="s3://media/clip.mkv")


@pytest.mark.parametrize("kind", ["empty", "text"])
def test_hook_names_bytes_that_are_no_media(tmp_path, ffmpeg_bin, kind):
    from mediaflow.video.hook import FfmpegHook

    path = make_bad_media(tmp_path, kind)
    with pytest.raises(NotMediaError, match=rf"ffprobe cannot read s3://media/{kind}\.mp4"):
        FfmpegHook().probe(str(path), label=f"s3://media/{kind}.mp4")
