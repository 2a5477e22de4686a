"""Sample media for the demo and `make up`: real H.264 + AAC from ffmpeg's test sources, no
download; where the samples go, and the conf defaults of a local deployment that point at them."""

from __future__ import annotations

import subprocess
from pathlib import Path


def sample_video(path: Path, seconds: float, width: int, height: int, *, gop: int | None = None) -> Path:
    """`seconds` of the `testsrc2` pattern with a 440 Hz tone; `gop` frames between keyframes."""
    keyframes = ["-g", str(gop)] if gop else []
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", *keyframes, "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


# -- the sample data every local deployment has, and the conf defaults that point at it ------------
#: read by the mediaflow contracts (mediaflow.common.conf.CONF_DEFAULTS_ENV) where DAGs are parsed
CONF_DEFAULTS_ENV = "MEDIAFLOW_CONF_DEFAULTS"
COPY_SOURCE_PREFIX = "demo-tree/"
COPY_DESTINATION_PREFIX = "demo-copy/"
#: not under uploads/, so the upload watchers do not start runs for them
SEGMENT_SAMPLE_KEY = "samples/mediaflow-demo-segments.mp4"
TRANSCODE_SAMPLE_KEY = "samples/mediaflow-demo-1080p.mp4"


def conf_defaults() -> dict[str, dict]:
    """Per DAG, the conf defaults of a local deployment: its trigger forms open ready to run on
    the samples `make up` and `make demo` upload (a production deployment sets its own buckets)."""
    from include.local_stack.bootstrap import BUCKETS, QUEUES, VIDEO_TABLE

    return {
        "s3_bulk_copy": {
            "source_bucket": BUCKETS["source"],
            "source_prefix": COPY_SOURCE_PREFIX,
            "destination_bucket": BUCKETS["destination"],
            "destination_prefix": COPY_DESTINATION_PREFIX,
            "report_bucket": BUCKETS["reports"],
        },
        "frameio_backup": {"destination_bucket": BUCKETS["backup"]},
        "video_segment_index": {"bucket": BUCKETS["media"], "key": SEGMENT_SAMPLE_KEY, "table_name": VIDEO_TABLE},
        "mediaconvert_transcode": {"bucket": BUCKETS["media"], "key": TRANSCODE_SAMPLE_KEY},
        "mediaflow_healthcheck": {
            "buckets": sorted(BUCKETS.values()),
            "table_name": VIDEO_TABLE,
            "queue_names": sorted(QUEUES.values()),
        },
    }
