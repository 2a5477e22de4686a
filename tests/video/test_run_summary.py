"""The summary a segment_and_index task logs (pure)."""

from __future__ import annotations

from mediaflow.video.index import run_summary


def test_an_indexed_video_lists_segments_and_rows():
    result = {
        "source": "s3://in/clip.mp4", "video_id": "123", "output": "s3://out/project/clip/split/",
        "status": "indexed", "segments": 3, "mode": "copy", "stale_removed": 2,
    }  # fmt: skip
    assert run_summary(result, "mediaflow-videos", 30) == [
        "video_segment_index: s3://in/clip.mp4",
        "  segments  3 segments of 30 s (copy mode) in s3://out/project/clip/split/",
        "  index     4 rows in DynamoDB table mediaflow-videos (VideoId 123 and one per segment)",
        "  removed   2 segments of an earlier run",
    ]


def test_a_skipped_video_says_why():
    result = {"source": "s3://in/clip.mp4", "status": "skipped", "reason": "already processed with the same settings"}
    assert run_summary(result, "t", 30) == [
        "video_segment_index: s3://in/clip.mp4 skipped: already processed with the same settings"
    ]
