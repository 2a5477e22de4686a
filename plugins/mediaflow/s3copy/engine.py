"""The server-side copy engine: one payload, one shared S3 client, one bounded thread pool.

Shaped like s3transfer: a payload is split into independent requests (CopyObject for small
objects, one UploadPartCopy per part for large ones) that run on the same pool, so a payload of
a few huge objects keeps every thread busy just as one of many small objects does. No request
waits on another inside the pool: the thread that finishes the last part of an upload completes
it (or aborts it), so the pool cannot deadlock and no upload is left open on failure.

S3 ignores nothing here, but moto ignores `CopySourceIfMatch`; the engine therefore also checks
the ETag itself, before a multipart upload starts and on each CopyObject result.
"""

from __future__ import annotations

import hashlib
import logging
import string
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

from botocore.config import Config

from mediaflow.common.aws import client_config
from mediaflow.common.parts import PartRange, choose_part_size, iter_parts
from mediaflow.common.s3 import clean_etag, error_info, head_object_or_none
from mediaflow.s3copy.planning import CopyItem, initial_part_size, is_up_to_date

log = logging.getLogger(__name__)

COPIED, SKIPPED, FAILED = "copied", "skipped", "failed"
#: outcomes of a run of parts of a spread upload; the completion step reports the object itself
PARTS_COPIED, PARTS_FAILED = "parts-copied", "parts-failed"
#: headers a CopyObject with MetadataDirective=COPY keeps, and a multipart upload must set again
CARRIED_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")


@dataclass(frozen=True)
class CopyOptions:
    multipart_threshold: int = 5 * 1024**3
    skip_existing: bool = True
    delete_source: bool = False
    acl: str | None = None
    storage_class: str | None = None
    sse_kms_key_id: str | None = None
    #: UploadPartCopy requests of one object in flight at once; the rest of the pool is free for
    #: other objects, and the server is not asked for dozens of ranges of one object together
    parts_in_flight: int = 8

    @property
    def part_size_floor(self) -> int:
        return initial_part_size(self.multipart_threshold)

    def destination_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.acl:
            args["ACL"] = self.acl
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.sse_kms_key_id:
            args["ServerSideEncryption"] = "aws:kms"
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        return args


class CopyResult(NamedTuple):
    bucket: str
    key: str
    version_id: str | None
    dest_bucket: str
    dest_key: str
    status: str  # copied | skipped | failed | parts-copied | parts-failed
    error_code: str
    http_status: int
    message: str
    size: int


class CopyError(Exception):
    """A per-object failure with the code and status the report shows."""

    def __init__(self, code: str, message: str, http_status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


def shared_client_config(threads: int) -> Config:
    """botocore Config for one client shared by `threads` threads: a connection for each
    thread (plus a little slack), the retry settings every mediaflow client uses, and no
    parameter validation (the engine builds every request itself; botocore's schema walk per
    call is pure CPU)."""
    return client_config(max_pool_connections=threads + 4, parameter_validation=False)


class CopyProgress:
    """Thread-safe counters, logged every `interval` seconds: objects and bytes done, rate."""

    def __init__(self, total_objects: int = 0, total_bytes: int = 0, interval: float = 10.0, emit=None) -> None:
        self.total_objects, self.total_bytes, self.interval = total_objects, total_bytes, interval
        self.emit = emit or log.info
        self.counts = {COPIED: 0, SKIPPED: 0, FAILED: 0}
        self.bytes_copied = 0
        self.bytes_done = 0
        self.started = time.monotonic()
        self._last = self.started
        self._lock = threading.Lock()

    def add(self, result: CopyResult) -> None:
        with self._lock:
            if result.status in self.counts:
                self.counts[result.status] += 1
                self.bytes_done += result.size
                if result.status == COPIED:
                    self.bytes_copied += result.size
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self.emit(self.line())

    def add_part_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes_copied += n

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        done = sum(self.counts.values())
        return (
            f"progress: {done}/{self.total_objects} objects ({self.counts[COPIED]} copied, "
            f"{self.counts[SKIPPED]} skipped, {self.counts[FAILED]} failed), "
            f"{self.bytes_done}/{self.total_bytes} bytes, {self.bytes_copied / elapsed / 1024**2:.1f} MiB/s copied"
        )


def make_result(item: CopyItem, status: str, message: str = "", exc: BaseException | None = None) -> CopyResult:
    """A result row; with `exc`, its code and status, and (unless `message` is given) a message
    naming both objects and the error."""
    code, http_status = "", 0 if status == FAILED else 200
    if exc is not None:
        if isinstance(exc, CopyError):
            code, http_status, text = exc.code, exc.http_status, str(exc)
        else:
            code, http_status, text = error_info(exc)
        message = message or f"s3://{item.bucket}/{item.key} -> s3://{item.dest_bucket}/{item.dest_key}: {text}"
    return CopyResult(
        item.bucket,
        item.key,
        item.version_id,
        item.dest_bucket,
        item.dest_key,
        status,
        code,
        http_status,
        message,
        item.size,
    )


def composite_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives a multipart object: MD5 of the parts' MD5s, then '-' and the count.

    None when a part's ETag is not a plain MD5 (S3-compatible servers may answer UploadPartCopy
    with their own ETag format): the copy is then verified by size alone, not failed."""
    cleaned = [clean_etag(e) for e in part_etags]
    if not all(is_plain_md5(e) for e in cleaned):
        return None
    digest = hashlib.md5(b"".join(bytes.fromhex(e) for e in cleaned), usedforsecurity=False)
    return f"{digest.hexdigest()}-{len(part_etags)}"


def is_plain_md5(etag: str) -> bool:
    """32 hex digits: an MD5 of the bytes, not a multipart composite or a server's own format."""
    return len(etag) == 32 and all(c in string.hexdigits for c in etag)


class _Upload:
    """State of one multipart copy shared by the threads copying its parts."""

    def __init__(self, item: CopyItem, upload_id: str, parts: list[PartRange], owned: bool, in_flight: int) -> None:
        self.item, self.upload_id, self.parts, self.owned = item, upload_id, parts, owned
        self.etags: dict[int, str] = {}
        self.remaining = len(parts)
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        #: bounds this object's UploadPartCopy requests in flight (CopyOptions.parts_in_flight)
        self.slots = threading.Semaphore(in_flight)


class CopyEngine:
    """Copies CopyItems with one client. `run` (or `copy_payload`) copies a payload; the public
    steps below (up-to-date check, start / complete / abort an upload, verify) are the ones the
    plan and completion tasks share with it, so the checks that keep a copy correct exist once.

    Every call goes straight to the client: retrying throttling and transient errors is the
    client's job (botocore's retry mode, set in `mediaflow.common.aws`)."""

    def __init__(self, client: Any, options: CopyOptions, *, threads: int = 32, progress: CopyProgress | None = None):
        self.client = client
        self.options = options
        self.threads = threads
        self.progress = progress or CopyProgress()
        self.results: list[CopyResult] = []
        self._results_lock = threading.Lock()

    # -- public steps ---------------------------------------------------------------------------
    def up_to_date(self, item: CopyItem) -> bool:
        """The destination already holds this object (see `planning.is_up_to_date`)."""
        head = head_object_or_none(self.client, item.dest_bucket, item.dest_key)
        if head is None:
            return False
        size, etag = int(head["ContentLength"]), clean_etag(head.get("ETag"))
        if size == item.size and self.options.sse_kms_key_id and head.get("ServerSideEncryption") == "aws:kms":
            return True  # under SSE-KMS the ETag is no MD5: size is all there is to compare
        return is_up_to_date(item.size, item.etag, size, etag, self.options.multipart_threshold)

    def start_upload(self, item: CopyItem) -> str:
        """HEAD the source (checking its ETag), read its tags, and create the destination's
        multipart upload with the source's headers, metadata and tags; returns the upload id."""
        source = head_object_or_none(self.client, item.bucket, item.key, item.version_id)
        if source is None:
            raise CopyError("NoSuchKey", "source does not exist", 404)
        self._check_source_etag(item, source.get("ETag", ""))
        kwargs: dict[str, Any] = {k: source[k] for k in CARRIED_HEADERS if source.get(k)}
        if source.get("Metadata"):
            kwargs["Metadata"] = source["Metadata"]
        tags = self.client.get_object_tagging(**_source(item)).get("TagSet", [])
        if tags:
            kwargs["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in tags])
        resp = self.client.create_multipart_upload(
            Bucket=item.dest_bucket, Key=item.dest_key, **kwargs, **self.options.destination_args()
        )
        return resp["UploadId"]

    def complete_upload(self, item: CopyItem, upload_id: str, etags: Mapping[int, str], parts: int) -> None:
        """Complete an upload of `parts` parts from their ETags, verify the copy, check that the
        source did not change meanwhile, then delete the source if asked. On any failure the
        upload is aborted (no orphaned parts) and the error raised."""
        try:
            missing = [n for n in range(1, parts + 1) if n not in etags]
            if missing:
                raise CopyError(
                    "IncompleteUpload",
                    f"{len(missing)} of {parts} parts were not copied (first missing: {missing[0]}); "
                    "the upload was aborted, run the DAG again",
                )
            ordered = [{"PartNumber": n, "ETag": f'"{clean_etag(etags[n])}"'} for n in range(1, parts + 1)]
            try:
                self.client.complete_multipart_upload(
                    Bucket=item.dest_bucket, Key=item.dest_key, UploadId=upload_id, MultipartUpload={"Parts": ordered}
                )
            except Exception as exc:
                if error_info(exc)[0] != "NoSuchUpload":
                    raise
                # a retried request whose first attempt completed it: the checks below decide
            self.verify(item, composite_etag([p["ETag"] for p in ordered]))
            self._check_source_unchanged(item)
            self._delete_source(item)
        except BaseException:
            self.abort_upload(item, upload_id)
            raise

    def complete_spread_upload(self, item: CopyItem, upload_id: str, parts: int) -> CopyResult:
        """Complete an upload whose parts several tasks copied (its parts listed from S3) with
        `complete_upload`, or abort it when a part is missing; one result for the object."""
        try:
            etags = self._listed_parts(item, upload_id)
        except Exception as exc:  # noqa: BLE001 - reported per object
            self.abort_upload(item, upload_id)
            return make_result(item, FAILED, exc=exc)
        try:
            if etags is None:  # no such upload: an earlier attempt of this step completed it
                self.verify(item, None)
                return make_result(item, COPIED, f"copied to s3://{item.dest_bucket}/{item.dest_key}")
            self.complete_upload(item, upload_id, etags, parts)
            return make_result(item, COPIED, f"copied in {parts} parts by several tasks")
        except Exception as exc:  # noqa: BLE001 - reported per object; complete_upload aborted it
            return make_result(item, FAILED, exc=exc)

    def abort_upload(self, item: CopyItem, upload_id: str) -> None:
        """Abort the destination's upload; a leftover upload would keep billing for its parts.
        An upload already gone is fine; any other error is logged, since the object's own
        error is what the report shows."""
        try:
            self.client.abort_multipart_upload(Bucket=item.dest_bucket, Key=item.dest_key, UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001
            if error_info(exc)[0] not in ("NoSuchUpload", "404"):
                log.error(
                    "could not abort upload %s of s3://%s/%s: %s", upload_id, item.dest_bucket, item.dest_key, exc
                )

    def verify(self, item: CopyItem, expected_etag: str | None = None) -> None:
        """The destination exists with the source's size (and `expected_etag`, unless SSE-KMS
        makes ETags opaque); raises CopyError("VerifyFailed") otherwise."""
        head = head_object_or_none(self.client, item.dest_bucket, item.dest_key)
        if head is None:
            raise CopyError("VerifyFailed", "destination missing after copy", 404)
        if int(head["ContentLength"]) != item.size:
            raise CopyError("VerifyFailed", f"destination has {head['ContentLength']} bytes, source {item.size}")
        if expected_etag and not self.options.sse_kms_key_id and clean_etag(head.get("ETag")) != expected_etag:
            raise CopyError(
                "VerifyFailed", f"destination ETag {clean_etag(head.get('ETag'))}, expected {expected_etag}"
            )

    # -- checks ---------------------------------------------------------------------------------
    def _record(self, item: CopyItem, status: str, exc: BaseException | None = None, message: str = "") -> None:
        result = make_result(item, status, message, exc)
        with self._results_lock:
            self.results.append(result)
        self.progress.add(result)

    def _etag_is_md5(self, item: CopyItem, copy_response: dict[str, Any]) -> bool:
        """Whether the copy's ETag is the MD5 of its bytes: a single-part source, and no KMS
        encryption (asked for, or the destination bucket's default), which makes ETags opaque."""
        sse = str(copy_response.get("ServerSideEncryption") or "")
        return is_plain_md5(item.etag) and not self.options.sse_kms_key_id and not sse.startswith("aws:kms")

    @staticmethod
    def _check_source_etag(item: CopyItem, etag: str) -> None:
        """Client-side CopySourceIfMatch: fail when the source is not the object we planned."""
        if item.etag and clean_etag(etag) != item.etag:
            raise CopyError(
                "PreconditionFailed",
                f"source changed since it was planned (ETag {clean_etag(etag)}, planned {item.etag}); "
                "run the DAG again to copy the current version",
                412,
            )

    def _check_source_unchanged(self, item: CopyItem) -> None:
        """After a multipart copy: the source still is the planned object (parts copied by
        range could otherwise mix two versions)."""
        head = head_object_or_none(self.client, item.bucket, item.key, item.version_id)
        if head is None:
            raise CopyError("NoSuchKey", "source disappeared during the copy", 404)
        self._check_source_etag(item, head.get("ETag", ""))

    def _delete_source(self, item: CopyItem) -> None:
        if self.options.delete_source:
            self.client.delete_object(**_source(item))

    def _listed_parts(self, item: CopyItem, upload_id: str) -> dict[int, str] | None:
        """Part number -> ETag of an upload, from S3; None when the upload does not exist."""
        try:
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=item.dest_bucket, Key=item.dest_key, UploadId=upload_id
            )
            return {p["PartNumber"]: p["ETag"] for page in pages for p in page.get("Parts", ())}
        except Exception as exc:
            if error_info(exc)[0] == "NoSuchUpload":
                return None
            raise

    # -- single request copy --------------------------------------------------------------------
    def _copy_small(self, item: CopyItem) -> None:
        try:
            if self.options.skip_existing and self.up_to_date(item):
                self._record(item, SKIPPED, message="destination already up to date")
                return
            if item.etag and not is_plain_md5(item.etag):
                # the copy gets a new single-part ETag, so compare the source before copying
                head = head_object_or_none(self.client, item.bucket, item.key, item.version_id)
                if head is None:
                    raise CopyError("NoSuchKey", "source no longer exists", 404)
                self._check_source_etag(item, head.get("ETag", ""))
            resp = self.client.copy_object(
                Bucket=item.dest_bucket,
                Key=item.dest_key,
                CopySource=_source(item),
                MetadataDirective="COPY",
                TaggingDirective="COPY",
                **_if_match(item),
                **self.options.destination_args(),
            )
            new_etag = clean_etag(resp.get("CopyObjectResult", {}).get("ETag"))
            if self._etag_is_md5(item, resp):
                # S3 computed the destination's MD5 while copying it: equal to the planned source
                # MD5, the bytes (and so the size) are the planned object's. A HEAD would only
                # repeat that, at one more request per object.
                self._check_source_etag(item, new_etag)
            else:
                self.verify(item, None)
            self._delete_source(item)
            self._record(item, COPIED, message="copied")
        except Exception as exc:  # noqa: BLE001 - recorded per object, the payload goes on
            self._record(item, FAILED, exc)

    # -- multipart copy -------------------------------------------------------------------------
    def _begin(self, item: CopyItem) -> _Upload | None:
        """Skip check, then `start_upload`; None when skipped or failed (both recorded)."""
        try:
            if self.options.skip_existing and self.up_to_date(item):
                self._record(item, SKIPPED, message="destination already up to date")
                return None
            upload_id = self.start_upload(item)
        except Exception as exc:  # noqa: BLE001
            self._record(item, FAILED, exc)
            return None
        parts = list(iter_parts(item.size, choose_part_size(item.size, self.options.part_size_floor)))
        return _Upload(item, upload_id, parts, owned=True, in_flight=self.options.parts_in_flight)

    def _copy_part(self, upload: _Upload, part: PartRange) -> None:
        with upload.slots:
            self._copy_part_now(upload, part)

    def _copy_part_now(self, upload: _Upload, part: PartRange) -> None:
        item = upload.item
        try:
            if upload.error is None:
                resp = self.client.upload_part_copy(
                    Bucket=item.dest_bucket,
                    Key=item.dest_key,
                    UploadId=upload.upload_id,
                    PartNumber=part.number,
                    CopySource=_source(item),
                    CopySourceRange=part.http_range,
                    **_if_match(item),
                )
                with upload.lock:
                    upload.etags[part.number] = clean_etag(resp["CopyPartResult"]["ETag"])
                self.progress.add_part_bytes(part.size)
        except Exception as exc:  # noqa: BLE001
            with upload.lock:
                upload.error = upload.error or exc
        with upload.lock:
            upload.remaining -= 1
            last = upload.remaining == 0
        if last:
            self._finish(upload)

    def _finish(self, upload: _Upload) -> None:
        item = upload.item
        if not upload.owned:  # a chunk of a spread upload: the completion step finishes it
            if upload.error is None:
                self._record(item, PARTS_COPIED, message=f"parts {item.first_part}-{item.last_part} copied")
            else:
                self._record(item, PARTS_FAILED, upload.error)
            return
        try:
            if upload.error is not None:
                self.abort_upload(item, upload.upload_id)
                raise upload.error
            self.complete_upload(item, upload.upload_id, upload.etags, len(upload.parts))
            self._record(item, COPIED, message=f"copied in {len(upload.parts)} parts")
        except Exception as exc:  # noqa: BLE001
            self._record(item, FAILED, exc)

    # -- entry point ----------------------------------------------------------------------------
    def run(self, items: Iterable[CopyItem]) -> list[CopyResult]:
        threshold = self.options.multipart_threshold
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="s3copy") as pool:
            futures = []
            large: list[CopyItem] = []
            for item in items:
                if item.is_parts:
                    parts = [
                        p
                        for p in iter_parts(item.size, item.part_size)
                        if item.first_part <= p.number <= item.last_part
                    ]
                    upload = _Upload(
                        item, item.upload_id or "", parts, owned=False, in_flight=self.options.parts_in_flight
                    )
                    futures += [pool.submit(self._copy_part, upload, p) for p in parts]
                elif item.size > threshold:
                    large.append(item)
                else:
                    futures.append(pool.submit(self._copy_small, item))
            # uploads start on the pool too; their parts are queued as each one starts
            starts = {pool.submit(self._begin, item): item for item in large}
            for started in starts:
                upload = started.result()
                if upload is not None:
                    futures += [pool.submit(self._copy_part, upload, p) for p in upload.parts]
            wait(futures)
            for future in futures:
                future.result()  # re-raise programming errors; object errors are already recorded
        return self.results


def _source(item: CopyItem) -> dict[str, str]:
    source = {"Bucket": item.bucket, "Key": item.key}
    if item.version_id:
        source["VersionId"] = item.version_id
    return source


def _if_match(item: CopyItem) -> dict[str, str]:
    return {"CopySourceIfMatch": f'"{item.etag}"'} if item.etag else {}


def copy_payload(
    client: Any,
    items: Iterable[CopyItem],
    options: CopyOptions,
    *,
    threads: int = 32,
    progress: CopyProgress | None = None,
) -> list[CopyResult]:
    """Copy one payload with one shared client and `threads` threads; one result per item.

    The client should be created with `shared_client_config(threads)`, so that every thread
    gets a connection and botocore retries throttling. Per-object failures are results, not exceptions."""
    return CopyEngine(client, options, threads=threads, progress=progress).run(items)
