"""Conf contract of `video_segment_index`.

`bucket` is nullable because runs started by an S3 upload event (asset watcher) carry no conf:
the objects come from the triggering asset events instead.
"""

from __future__ import annotations

from mediaflow.common import params as fields

PARAMS = {
    "bucket": fields.bucket(
        "Bucket holding the video(s). Leave empty only for runs started by an S3 upload event.",
        None,
        required=False,
        title="Input bucket",
    ),
    "key": fields.string(
        "Key of one video to segment, e.g. `uploads/My Clip.mp4` (not URL-encoded). Give `key` or `prefix`.",
        None,
        minLength=1,
        maxLength=1024,
        title="Video key",
    ),
    "prefix": fields.string(
        "Segment every video (mp4, mov, mkv, m4v, webm, ts, avi, flv) under this prefix, one mapped task each, "
        "at most 1024 per run. Give `key` or `prefix`.",
        None,
        maxLength=1024,
        title="Prefix (batch mode)",
    ),
    "segment_seconds": fields.integer(
        "Length of each segment in seconds.", 30, minimum=1, maximum=86400, title="Segment length (s)"
    ),
    "mode": fields.choice(
        "`copy` (fast, no re-encode): each cut lands on the first keyframe at or after every N seconds, so "
        "segments are N seconds or a little longer. `exact`: re-encodes with a keyframe forced every N seconds, "
        "so every segment but the last is N seconds to within one frame (slower, CPU-bound).",
        "copy",
        ["copy", "exact"],
        title="Cutting mode",
    ),
    "output_bucket": fields.bucket(
        "Bucket for the segments; empty means the input bucket.", None, required=False, title="Output bucket"
    ),
    "output_key_prefix": fields.string(
        "Key prefix template for the segments, named `{video_name}_{index:04d}{ext}` below it. Fields: "
        "{video_name}, {extension}, {source_bucket}, {source_dir}.",
        "project/{video_name}/split",
        nullable=False,
        minLength=1,
        maxLength=512,
        title="Output key prefix",
    ),
    "table_name": fields.string(
        "DynamoDB table of the video index (partition key `VideoId`, Number).",
        "mediaflow-videos",
        nullable=False,
        minLength=3,
        maxLength=255,
        title="Index table",
    ),
    "force": fields.boolean(
        "Segment and index again even when this object version was already processed with the same settings.",
        False,
        title="Force",
    ),
}
