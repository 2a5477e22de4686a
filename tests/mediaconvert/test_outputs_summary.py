"""What the transcode task does with a finished job's outputs (pure): which it checks, which it
lists, and the summary it logs."""

from __future__ import annotations

from mediaflow.mediaconvert.jobs import (
    LISTED_CAPTURES,
    expected_outputs,
    listed_outputs,
    listing_prefixes,
    missing_outputs,
    outputs_summary,
)
from tests.mediaconvert.test_jobs import AAC, VIDEO, _details, _group, _job

CAPTURE = {
    "ContainerSettings": {"Container": "RAW"},
    "NameModifier": "_thumb",
    "VideoDescription": {
        "CodecSettings": {
            "Codec": "FRAME_CAPTURE",
            "FrameCaptureSettings": {"FramerateNumerator": 1, "FramerateDenominator": 1},
        }
    },
}


def _groups(capture_seconds: int = 3):
    settings = _job(
        _group("FILE_GROUP_SETTINGS", "FileGroupSettings", "s3://o/clip/", [{**VIDEO, **AAC, "NameModifier": "_360p"}]),
        _group("DASH_ISO_GROUP_SETTINGS", "DashIsoGroupSettings", "s3://o/clip/dash/",
               [{**VIDEO, "NameModifier": "_v"}, {**AAC, "NameModifier": "_a"}], SegmentLength=2),
        _group("FILE_GROUP_SETTINGS", "FileGroupSettings", "s3://thumbs/clip/", [CAPTURE]),
    )  # fmt: skip
    return expected_outputs(settings, _details([4_000], [4_000, 4_000], [capture_seconds * 1000]))


def test_missing_outputs_are_named_in_group_order():
    groups = _groups()
    every = {u for g in groups for u in g.uris()}
    assert missing_outputs(groups, every) == []
    gone = {"s3://o/clip/dash/clip_v_000000002.mp4", "s3://thumbs/clip/clip_thumb.0000001.jpg"}
    assert missing_outputs(groups, every - gone) == sorted(gone)


def test_one_listing_per_bucket_under_the_prefix_its_outputs_share():
    uris = [u for g in _groups() for u in g.uris()]
    assert listing_prefixes(uris) == {"o": "clip/", "thumbs": "clip/clip_thumb.000000"}


def test_listed_outputs_leave_out_segments_and_cap_frame_captures():
    assert listed_outputs(_groups()) == [
        "s3://o/clip/clip_360p.mp4",
        "s3://o/clip/dash/clip.mpd",
        *[f"s3://thumbs/clip/clip_thumb.000000{n}.jpg" for n in range(3)],
    ]
    many = listed_outputs(_groups(capture_seconds=100))
    assert len([u for u in many if "thumb" in u]) == LISTED_CAPTURES


def test_summary_lists_every_group_with_its_segments_and_captures():
    assert outputs_summary("job-1", "s3://in/up/clip.mov", _groups()) == [
        "MediaConvert job job-1 COMPLETE for s3://in/up/clip.mov",
        "  files: in s3://o/clip/",
        "    s3://o/clip/clip_360p.mp4",
        "  DASH: s3://o/clip/dash/clip.mpd",
        "    s3://o/clip/dash/clip_vinit.mp4 (2 segments)",
        "    s3://o/clip/dash/clip_ainit.mp4 (2 segments)",
        "  files: in s3://thumbs/clip/",
        "    s3://thumbs/clip/clip_thumb.0000000.jpg .. s3://thumbs/clip/clip_thumb.0000002.jpg (3 frame captures)",
    ]
