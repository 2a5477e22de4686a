"""Back up one planned Frame.io file into S3 (no Airflow): skip what is already there, fetch a
fresh download URL, copy through the engine, and say what happened.

The S3 object carries the Frame.io asset id, version and xxh64 as metadata; that is what makes
`skip_existing` safe: an object at the key counts as backed up only when it came from the same
asset with the same size (and checksum, when both sides know one). The checksum compared is the
XXHASH64 S3 itself stored when it has one for the whole object; the metadata tag stays for
readers (and servers) that do not know the new algorithms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mediaflow.common.s3 import is_not_found
from mediaflow.common.summary import human_bytes, plural
from mediaflow.frameio import s3_checksums as sums
from mediaflow.frameio.client import FrameioClient, FrameioError
from mediaflow.frameio.http_to_s3 import HttpToS3, TransferError, TransferSpec

log = logging.getLogger(__name__)

META_ASSET = "frameio-asset-id"
META_VERSION = "frameio-version"
META_XXH64 = "frameio-xxh64"


@dataclass
class Outcome:
    status: str  # copied | skipped_existing | skipped_no_original | failed
    bytes: int = 0
    detail: str = ""


def already_backed_up(head: dict[str, Any] | None, entry: dict[str, Any]) -> bool:
    """Same asset, same size, and the same xxh64 when both the object and Frame.io have one."""
    if not head:
        return False
    meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    if meta.get(META_ASSET) != entry["asset_id"]:
        return False
    if entry.get("size") is not None and int(head.get("ContentLength", -1)) != int(entry["size"]):
        return False
    expected = entry.get("xxh64")
    if not expected:
        return True
    stored = sums.stored_xxh64(head)
    if stored and "-" not in stored:  # a single upload: S3's own checksum of the whole object
        return stored == sums.hex_to_b64(expected)
    tagged = meta.get(META_XXH64)
    return not (tagged and tagged.lower().rjust(16, "0") != expected.lower().rjust(16, "0"))


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def back_up_file(
    client: FrameioClient, engine: HttpToS3, s3: Any, target: dict[str, Any], entry: dict[str, Any]
) -> Outcome:
    bucket, key = target["destination_bucket"], entry["key"]
    try:
        if target.get("skip_existing", True) and already_backed_up(_head(s3, bucket, key), entry):
            return Outcome("skipped_existing", 0, "same asset id and size already in S3")
        url = client.download_url(entry["asset_id"])
        if not url:
            return Outcome(
                "skipped_no_original",
                0,
                "Frame.io offers no original (watermarked, or downloads disabled for this share); "
                "ask the project owner to allow downloads, then re-run",
            )
        metadata = {META_ASSET: entry["asset_id"]}
        if entry.get("version") is not None:
            metadata[META_VERSION] = str(entry["version"])
        spec = TransferSpec(
            url=url,
            bucket=bucket,
            key=key,
            size=entry.get("size"),
            xxh64=entry.get("xxh64"),
            metadata=metadata,
            refresh_url=lambda: client.download_url(entry["asset_id"]),
        )
        result = engine.transfer(spec)
    except (TransferError, FrameioError) as exc:
        return Outcome("failed", 0, str(exc))
    detail = (
        f"{result.size} bytes, {result.mode}, {result.parts} part(s), xxh64 {result.xxh64}, in S3 by {result.verified}"
    )
    if result.part_retries or result.url_refreshes:
        detail += f", {result.part_retries} part retries, {result.url_refreshes} URL refreshes"
    return Outcome("copied", result.size, detail)


@dataclass
class BatchResult:
    """What one plan batch did: counts per outcome and bytes copied, and a line per failed file."""

    totals: dict[str, int] = field(
        default_factory=lambda: {"copied": 0, "skipped_existing": 0, "skipped_no_original": 0, "bytes": 0, "failed": 0}
    )
    failures: list[str] = field(default_factory=list)


def back_up_batch(client: FrameioClient, engine: HttpToS3, s3: Any, plan: dict[str, Any]) -> BatchResult:
    """Back up every file of a plan, each on its own: one that fails never stops the others, so
    the result tells the state of all of them."""
    target, result = plan["target"], BatchResult()
    for entry in plan["files"]:
        outcome = back_up_file(client, engine, s3, target, entry)
        where = f"s3://{target['destination_bucket']}/{entry['key']}"
        result.totals[outcome.status] = result.totals.get(outcome.status, 0) + 1
        result.totals["bytes"] += outcome.bytes
        log.info("%s %s: %s", outcome.status, where, outcome.detail)
        if outcome.status == "failed":
            result.failures.append(f"{entry['name']} (asset {entry['asset_id']}) -> {where}: {outcome.detail}")
    return result


def destination_uri(target: dict[str, Any]) -> str:
    """`s3://bucket/prefix/` of a normalized backup target (its prefix has no trailing slash)."""
    prefix = target.get("destination_prefix") or ""
    return f"s3://{target['destination_bucket']}/" + (f"{prefix}/" if prefix else "")


def batch_summary_lines(plan: dict[str, Any], result: BatchResult) -> list[str]:
    """What one transfer task did, in a few lines for its log: files backed up, skipped and
    failed, and where they went."""
    totals = result.totals
    skipped = totals.get("skipped_existing", 0) + totals.get("skipped_no_original", 0)
    lines = [
        f"Frame.io backup: {plural(len(plan['files']), 'file')} to {destination_uri(plan['target'])}",
        f"  backed up  {totals.get('copied', 0):,} ({human_bytes(totals.get('bytes', 0))})",
        f"  skipped    {skipped:,}"
        + (
            f" ({totals.get('skipped_existing', 0):,} already in S3, "
            f"{totals.get('skipped_no_original', 0):,} without an original to download)"
            if skipped
            else ""
        ),
        f"  failed     {totals.get('failed', 0):,}",
    ]
    lines += [f"    - {failure}" for failure in result.failures]
    return lines


def run_summary_lines(plan: dict[str, Any] | None, totals: list[dict[str, int]]) -> list[str]:
    """The whole run in a few lines for the last task's log: what resolve found, what the
    transfers backed up, skipped and failed, and where it went. `plan` is resolve's summary;
    `totals` the counts of each transfer task that finished (a failed one returns none)."""
    plan = plan or {}
    batches = int(plan.get("batches", len(totals)))
    sums = {
        k: sum(int(t.get(k, 0)) for t in totals) for k in ("copied", "bytes", "skipped_existing", "skipped_no_original")
    }
    skipped = sums["skipped_existing"] + sums["skipped_no_original"]
    failed = batches - len(totals)
    left_out = int(plan.get("skipped", 0))
    lines = [
        f"Frame.io backup: {plural(int(plan.get('files', 0)), 'file')} ({human_bytes(plan.get('bytes', 0))}) "
        f"from {plural(int(plan.get('targets', 0)), 'target')} in {plural(batches, 'transfer task')}",
        f"  backed up  {sums['copied']:,} ({human_bytes(sums['bytes'])})",
        f"  skipped    {skipped:,}"
        + (
            f" ({sums['skipped_existing']:,} already in S3, {sums['skipped_no_original']:,} without an original)"
            if skipped
            else ""
        ),
    ]
    if left_out:
        lines.append(f"  left out   {left_out:,} while resolving (still uploading, or not a file): see the resolve log")
    lines.append(
        f"  failed     {failed:,} of {plural(batches, 'transfer task')}: their logs name each file"
        if failed
        else "  failed     0"
    )
    for destination in plan.get("destinations") or []:
        lines.append(f"  to         {destination}")
    return lines
