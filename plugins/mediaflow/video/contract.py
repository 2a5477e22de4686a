"""Conf contract of `video_segment_index`.

`bucket` and `key` may be empty because runs started by an S3 upload event (asset watcher)
carry no conf: the objects come from the triggering asset events instead. Every other way in
(form, REST, backfill) needs `bucket` with `key` or `prefix`; `validate` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaflow.common import params as fields
from mediaflow.common.errors import InputError
from mediaflow.video.segmenting import DEFAULT_PREFIX_TEMPLATE, TEMPLATE_FIELDS, SourceName, render_prefix

PARAMS = fields.with_deployment_defaults(
    "video_segment_index",
    {
        "bucket": fields.bucket(
            "Input bucket",
            "Bucket holding the video(s). Required, except in runs started by an S3 upload event.",
        ),
        "key": fields.text(
            "Video key",
            "Key of one video to segment, e.g. `uploads/My Clip.mp4` (not URL-encoded). Give a video key or a prefix.",
            minLength=1,
            maxLength=fields.MAX_KEY_LENGTH,
        ),
        "prefix": fields.text(
            "Prefix (batch mode)",
            "Segment every video (mp4, mov, mkv, m4v, webm, ts, avi, flv) under this prefix, one mapped task each, "
            "at most 1024 per run. Give a video key or a prefix.",
            maxLength=fields.MAX_KEY_LENGTH,
        ),
        "segment_seconds": fields.integer(
            "Segment length (s)", "Length of each segment in seconds.", 30, minimum=1, maximum=86400
        ),
        "mode": fields.choice(
            "Cutting mode",
            "copy: fast, no re-encode; each cut lands on the first keyframe at or after every N seconds, so "
            "segments are N seconds or a little longer. exact: re-encodes with a keyframe forced every N seconds, "
            "so every segment but the last is N seconds to within one frame (slower, CPU-bound).",
            "copy",
            ["copy", "exact"],
        ),
        "output_bucket": fields.bucket("Output bucket", "Bucket for the segments. Empty: the input bucket."),
        "output_key_prefix": fields.text(
            "Output key prefix",
            "Key prefix template for the segments, named {video_name}_{index:04d}{ext} below it. Fields: "
            f"{', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}, written plainly (no format specs); segment keys "
            "must fit in S3's 1,024 bytes.",
            DEFAULT_PREFIX_TEMPLATE,
            required=True,
            minLength=1,
            maxLength=512,
        ),
        "table_name": fields.text(
            "Index table",
            "DynamoDB table of the video index (partition key `VideoId`, Number).",
            "mediaflow-videos",
            required=True,
            minLength=3,
            maxLength=255,
        ),
        "force": fields.boolean(
            "Force",
            "Segment and index again even when this object version was already processed with the same settings.",
            False,
        ),
    },
)


def validate(conf: Mapping[str, Any]) -> None:
    """The rules across keys: `bucket` with `key` or `prefix` (not both), and an output key
    template that works for them (known fields, no format specs, keys within 1,024 bytes)."""
    bucket, key, prefix = conf.get("bucket"), conf.get("key"), conf.get("prefix")
    if not bucket:
        raise InputError(
            "bucket is empty: name the bucket holding the video(s), with key (one video) or prefix (every video "
            "under it)."
        )
    if key and prefix is not None:
        raise InputError(
            f"key ({key!r}) and prefix ({prefix!r}) are both set: give key for one video or prefix for every video "
            "under it, and leave the other empty (null)."
        )
    if not key and prefix is None:
        raise InputError(f"give key (one video in {bucket}) or prefix (every video under it); neither is set.")
    # with a prefix, the shortest key a video below it can have stands in for the names to come
    sample = key or f"{prefix}x.mp4"
    render_prefix(conf.get("output_key_prefix") or DEFAULT_PREFIX_TEMPLATE, SourceName.from_key(sample), bucket)
