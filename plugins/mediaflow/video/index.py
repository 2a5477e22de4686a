"""The DynamoDB video index: deterministic ids and the item documents, without Airflow or boto3.

Document shape (kept from the Lambda this replaces, so existing readers keep working):
`VideoId`, `process_step` (`upload` | `timesplit`), `creation_time` (ISO 8601), `bucket`, `key`,
`name`, `extension`, `size` ([width, height]), `fps`, `duration`, `audio`, and `sub_videos` on the
parent or `parent_video` on a segment. Numbers are `Decimal`, as DynamoDB wants them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mediaflow.common.summary import plural
from mediaflow.video.probe import MediaInfo

#: ids are `<30-digit object hash><6-digit slot>`: 36 digits, inside DynamoDB's 38-digit Number
HASH_DIGITS = 30
SLOT_DIGITS = 6
MAX_SEGMENTS = 10**SLOT_DIGITS - 1
PARENT_SLOT = 0


class IndexConflictError(RuntimeError):
    """A VideoId this object derives is already held by an item of another object."""


def object_hash(bucket: str, key: str, etag: str) -> int:
    """A 30-digit positive integer fixed by the object version (bucket, key and ETag)."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{etag.strip(chr(34))}".encode()).digest()
    low = 10 ** (HASH_DIGITS - 1)
    return low + int.from_bytes(digest, "big") % (10**HASH_DIGITS - low)


def video_id(bucket: str, key: str, etag: str, segment_index: int | None = None) -> int:
    """The parent's id (`segment_index=None`) or a segment's: the same on every re-run.

    The slot is 0 for the parent and index + 1 for segment `index`, so ids of one video share
    their leading 30 digits and never collide with each other.
    """
    slot = PARENT_SLOT if segment_index is None else segment_index + 1
    if not 0 <= slot <= MAX_SEGMENTS:
        raise ValueError(f"segment index {segment_index} is outside 0..{MAX_SEGMENTS - 1}")
    return object_hash(bucket, key, etag) * 10**SLOT_DIGITS + slot


def settings_signature(mode: str, seconds: int) -> str:
    """What changes the segments' content; stored on each segment object as S3 metadata."""
    return f"v1;mode={mode};seconds={seconds}"


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _decimal(value: float | int | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(round(float(value), 3))) if isinstance(value, float) else Decimal(value)


def _common(
    vid: int, step: str, bucket: str, key: str, name: str, extension: str, info: MediaInfo, created: str
) -> dict[str, Any]:
    return {
        "VideoId": Decimal(vid),
        "process_step": step,
        "creation_time": created,
        "bucket": bucket,
        "key": key,
        "name": name,
        "extension": extension,
        "size": [Decimal(int(info.width or 0)), Decimal(int(info.height or 0))],
        "fps": _decimal(info.fps) if info.fps is not None else Decimal(0),
        "duration": _decimal(info.duration) if info.duration is not None else Decimal(0),
        "audio": bool(info.audio),
    }


@dataclass(frozen=True)
class SegmentRecord:
    index: int
    video_id: int
    bucket: str
    key: str
    name: str
    extension: str
    info: MediaInfo


def parent_item(
    vid: int, bucket: str, key: str, name: str, extension: str, info: MediaInfo, sub_videos: list[int], created: str
) -> dict[str, Any]:
    item = _common(vid, "upload", bucket, key, name, extension, info, created)
    item["sub_videos"] = [Decimal(s) for s in sub_videos]
    return item


def segment_item(segment: SegmentRecord, parent_id: int, created: str) -> dict[str, Any]:
    item = _common(
        segment.video_id,
        "timesplit",
        segment.bucket,
        segment.key,
        segment.name,
        segment.extension,
        segment.info,
        created,
    )
    item["parent_video"] = Decimal(parent_id)
    return item


def conflict_message(vid: int, existing: dict[str, Any], wanted: dict[str, Any]) -> str:
    return (
        f"VideoId {vid} is already held by s3://{existing.get('bucket')}/{existing.get('key')} "
        f"({existing.get('process_step')}), not by s3://{wanted.get('bucket')}/{wanted.get('key')}. "
        "Nothing was overwritten. Check which item is right, delete the wrong one from the table, then re-run."
    )


def owned_by(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether an item already stored under an id belongs to the same video as `wanted`.

    A parent is the same when bucket and key match (the id already fixes the ETag); a segment
    when it points at the same parent (its key may move when `output_key_prefix` changes).
    """
    if existing.get("process_step") != wanted.get("process_step"):
        return False
    if wanted["process_step"] == "upload":
        return existing.get("bucket") == wanted["bucket"] and existing.get("key") == wanted["key"]
    return existing.get("parent_video") == wanted.get("parent_video")


def run_summary(result: dict[str, Any], table_name: str, segment_seconds: int) -> list[str]:
    """What one segment_and_index task did, in a few lines for its log: the segments written and
    the index rows, or why the video was left alone."""
    source = result.get("source", "")
    if result.get("status") != "indexed":
        return [f"video_segment_index: {source} skipped: {result.get('reason', '')}"]
    segments = int(result.get("segments") or 0)
    lines = [
        f"video_segment_index: {source}",
        f"  segments  {plural(segments, 'segment')} of {segment_seconds} s ({result.get('mode')} mode) "
        f"in {result.get('output', '')}",
        f"  index     {plural(segments + 1, 'row')} in DynamoDB table {table_name} "
        f"(VideoId {result.get('video_id')} and one per segment)",
    ]
    if result.get("stale_removed"):
        lines.append(f"  removed   {plural(int(result['stale_removed']), 'segment')} of an earlier run")
    return lines
