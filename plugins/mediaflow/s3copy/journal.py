"""The multipart uploads a run started, and the sweep that leaves none of them open (no Airflow).

Right after CreateMultipartUpload the copy engine writes one small object under the run's work
location, `<work>/uploads/<hash of the destination>/<hash of the upload id>.json`, and rewrites
it when the upload is completed or aborted. A copy task killed mid-upload leaves its entry
`open`: its retry finds it (`open_entries`), lists the upload's parts and copies only the
missing ones. Whatever is still open when the run reports is aborted by `settle_uploads`,
together with any upload started after the run began on one of the run's destination keys that
no entry names (a kill between CreateMultipartUpload and the entry's write). Uploads of other
runs or other writers are never touched: an upload is this run's by its id in the journal or
the plan, or by its key and start time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from mediaflow.common.s3 import error_info

log = logging.getLogger(__name__)

OPEN, COMPLETED, ABORTED = "open", "completed", "aborted"


@dataclass(frozen=True)
class JournalEntry:
    upload_id: str
    dest_bucket: str
    dest_key: str
    source: list[Any]  # bucket, key, version id, ETag
    size: int
    part_size: int
    started_at: float
    state: str = OPEN


@dataclass(frozen=True)
class AbortedUpload:
    bucket: str
    key: str
    upload_id: str
    parts: int
    reason: str


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class UploadJournal:
    """The run's uploads under `s3://<bucket>/<prefix>uploads/`."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, f"{prefix}uploads/"

    def _folder(self, dest_bucket: str, dest_key: str) -> str:
        return f"{self.prefix}{_hash(dest_bucket + chr(0) + dest_key)}/"

    def _key(self, entry: JournalEntry) -> str:
        return f"{self._folder(entry.dest_bucket, entry.dest_key)}{_hash(entry.upload_id)}.json"

    def write(self, entry: JournalEntry) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(entry), Body=json.dumps(asdict(entry)).encode())

    def started(self, item: Any, upload_id: str, part_size: int) -> JournalEntry:
        entry = JournalEntry(
            upload_id,
            item.dest_bucket,
            item.dest_key,
            [item.bucket, item.key, item.version_id, item.etag],
            item.size,
            part_size,
            time.time(),
        )
        self.write(entry)
        return entry

    def finished(self, entry: JournalEntry, state: str) -> None:
        self.write(JournalEntry(**{**asdict(entry), "state": state}))

    def open_entries(self, item: Any) -> list[JournalEntry]:
        """Open uploads of `item`'s destination, newest first."""
        found = [e for e in self._entries(self._folder(item.dest_bucket, item.dest_key)) if e.state == OPEN]
        return sorted(found, key=lambda e: e.started_at, reverse=True)

    def entries(self) -> Iterator[JournalEntry]:
        return self._entries(self.prefix)

    def _entries(self, prefix: str) -> Iterator[JournalEntry]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", ()):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                yield JournalEntry(**json.loads(body))


def _parts_of(client: Any, bucket: str, key: str, upload_id: str) -> int | None:
    """How many parts an upload holds; None when it no longer exists (completed or aborted)."""
    try:
        pages = client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id)
        return sum(len(page.get("Parts", ())) for page in pages)
    except Exception as exc:
        if error_info(exc)[0] in ("NoSuchUpload", "404"):
            return None
        raise


def _abort(client: Any, bucket: str, key: str, upload_id: str, reason: str) -> AbortedUpload | None:
    parts = _parts_of(client, bucket, key, upload_id)
    if parts is None:
        return None
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:
        if error_info(exc)[0] in ("NoSuchUpload", "404"):
            return None
        raise
    log.warning("aborted upload %s of s3://%s/%s (%s parts): %s", upload_id, bucket, key, parts, reason)
    return AbortedUpload(bucket, key, upload_id, parts, reason)


def _initiated_since(client: Any, bucket: str, since: float) -> Iterator[tuple[str, str]]:
    """(key, upload id) of the bucket's open uploads started at or after `since` (epoch seconds)."""
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", ()):
            initiated = upload.get("Initiated")
            when = initiated.timestamp() if isinstance(initiated, datetime) else 0.0
            # S3 keeps the start to the second; a second of slack does not reach another run's
            # upload, which must also be on one of this run's destination keys
            if when >= since - 1:
                yield upload["Key"], upload["UploadId"]


def settle_uploads(
    client: Any,
    journal: UploadJournal,
    *,
    started_at: float,
    buckets: Iterable[str],
    run_uploads: Iterable[tuple[str, str, str]] = (),
    in_plan: Callable[[set[tuple[str, str]]], set[tuple[str, str]]] = lambda keys: set(),
) -> list[AbortedUpload]:
    """Abort every upload of this run that is still open; returns what was aborted.

    This run's uploads are the journal's open entries, `run_uploads` ((bucket, key, upload id)
    the plan started), and, in `buckets`, uploads started since `started_at` on a destination
    key of the plan (`in_plan` returns which of the given (bucket, key) pairs are)."""
    aborted: list[AbortedUpload] = []
    known: set[str] = set()
    for entry in journal.entries():
        known.add(entry.upload_id)
        if entry.state != OPEN:
            continue
        done = _abort(client, entry.dest_bucket, entry.dest_key, entry.upload_id, "its copy task did not finish it")
        if done:
            aborted.append(done)
        journal.finished(entry, ABORTED)
    for bucket, key, upload_id in run_uploads:
        known.add(upload_id)
        done = _abort(client, bucket, key, upload_id, "its completion step did not finish it")
        if done:
            aborted.append(done)
    candidates = {
        (bucket, key, upload_id)
        for bucket in sorted(set(buckets))
        for key, upload_id in _initiated_since(client, bucket, started_at)
        if upload_id not in known
    }
    if candidates:
        ours = in_plan({(b, k) for b, k, _ in candidates})
        for bucket, key, upload_id in sorted(candidates):
            if (bucket, key) in ours:
                done = _abort(client, bucket, key, upload_id, "started by this run but never recorded")
                if done:
                    aborted.append(done)
    return aborted
