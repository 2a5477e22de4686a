"""Defaults every mediaflow DAG shares, so ownership, retries and tags are uniform."""

from __future__ import annotations

from datetime import timedelta

OWNER = "media-ops"

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}

#: pools created by the local stack bootstrap and documented in the README
S3_COPY_POOL = "s3_copy"
FFMPEG_POOL = "ffmpeg"
