"""The server-side copy engine: one payload, one shared S3 client, one bounded thread pool.

Shaped like s3transfer: a payload is split into independent requests (CopyObject for small
objects, one UploadPartCopy per part for large ones) that run on the same pool, so a payload of
a few huge objects keeps every thread busy just as one of many small objects does. No request
waits on another inside the pool: the thread that finishes the last part of an upload completes
it (or aborts it), so the pool cannot deadlock and no upload is left open on failure.

S3 ignores nothing here, but moto ignores `CopySourceIfMatch`; the engine therefore also checks
the ETag itself, before each copy and again before a multipart upload is completed.

Every copy asks S3 for a full-object checksum on the destination (see `checksums`), and a copy
is verified, with no byte read, by comparing it with the source's stored one; where the source
has none, by the ETag, else by the size. Each result says which (`CopyResult.verified`).

Every multipart upload is recorded in the run's journal (see `journal`) right after it is
created. A retried task resumes the uploads its killed attempt left open: it lists their parts,
keeps those of the right size, copies only the others, and completes them.
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
from mediaflow.s3copy.checksums import Checksum, combine, destination_algorithm, stored_checksum
from mediaflow.s3copy.journal import ABORTED, COMPLETED, JournalEntry, UploadJournal
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
    #: how the copy was verified: "checksum:<ALGORITHM>", "etag" or "size" ("" when not copied)
    verified: str = ""


class PartDone(NamedTuple):
    """A copied part as UploadPartCopy or ListParts tells it."""

    etag: str
    size: int
    checksum: str | None = None  # the part's CRC, in the upload's algorithm, when S3 gave it


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


def make_result(
    item: CopyItem, status: str, message: str = "", exc: BaseException | None = None, verified: str = ""
) -> CopyResult:
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
        verified,
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

    def __init__(
        self,
        item: CopyItem,
        upload_id: str,
        parts: list[PartRange],
        owned: bool,
        in_flight: int,
        *,
        kept: dict[int, PartDone] | None = None,
        entry: JournalEntry | None = None,
    ) -> None:
        self.item, self.upload_id, self.parts, self.owned = item, upload_id, parts, owned
        self.entry = entry
        #: parts already in the upload (a resumed upload) and parts copied now
        self.done: dict[int, PartDone] = dict(kept or {})
        self.kept = len(self.done)
        self.to_copy = [p for p in parts if p.number not in self.done]
        self.remaining = len(self.to_copy)
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

    def __init__(
        self,
        client: Any,
        options: CopyOptions,
        *,
        threads: int = 32,
        progress: CopyProgress | None = None,
        journal: UploadJournal | None = None,
    ):
        self.client = client
        self.options = options
        self.journal = journal
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
        multipart upload with the source's headers, metadata and tags, asking for a full-object
        checksum (the source's CRC algorithm, else CRC64NVME); returns the upload id."""
        source = self._source_head(item)
        kwargs: dict[str, Any] = {k: source[k] for k in CARRIED_HEADERS if source.get(k)}
        if source.get("Metadata"):
            kwargs["Metadata"] = source["Metadata"]
        tags = self.client.get_object_tagging(**_source(item)).get("TagSet", [])
        if tags:
            kwargs["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in tags])
        resp = self.client.create_multipart_upload(
            Bucket=item.dest_bucket,
            Key=item.dest_key,
            ChecksumAlgorithm=destination_algorithm(stored_checksum(source)),
            ChecksumType="FULL_OBJECT",
            **kwargs,
            **self.options.destination_args(),
        )
        return resp["UploadId"]

    def complete_upload(self, item: CopyItem, upload_id: str, done: Mapping[int, PartDone], parts: int) -> str:
        """Complete an upload of `parts` parts, verify the copy, then delete the source if asked;
        returns how the copy was verified. The source is checked first (it must still be the
        planned object: parts copied by range could otherwise mix two versions), and its stored
        full-object checksum is handed to S3, which refuses parts that do not add up to it.
        On any failure the upload is aborted (no orphaned parts) and the error raised."""
        try:
            missing = [n for n in range(1, parts + 1) if n not in done]
            if missing:
                raise CopyError(
                    "IncompleteUpload",
                    f"{len(missing)} of {parts} parts were not copied (first missing: {missing[0]}); "
                    "the upload was aborted, run the DAG again",
                )
            source = stored_checksum(self._source_head(item))
            algorithm = destination_algorithm(source)
            ordered = [done[n] for n in range(1, parts + 1)]
            listed = [{"PartNumber": n, "ETag": f'"{clean_etag(p.etag)}"'} for n, p in enumerate(ordered, 1)]
            full: str | None = source.value if source is not None and source.algorithm == algorithm else None
            if all(p.checksum for p in ordered):
                for entry, p in zip(listed, ordered, strict=True):
                    entry[f"Checksum{algorithm}"] = p.checksum
                combined = combine([(str(p.checksum), p.size) for p in ordered], algorithm)
                if full is not None and combined != full:
                    raise CopyError(
                        "VerifyFailed",
                        f"the copied parts' {algorithm} combine to {combined}, the source's is {full}; "
                        "the upload was aborted, run the DAG again",
                    )
                full = combined
            checksum_args = {"ChecksumType": "FULL_OBJECT", f"Checksum{algorithm}": full} if full else {}
            completed: dict[str, Any] = {}
            try:
                completed = self.client.complete_multipart_upload(
                    Bucket=item.dest_bucket,
                    Key=item.dest_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": listed},
                    **checksum_args,
                )
            except Exception as exc:
                code = error_info(exc)[0]
                if code in ("BadDigest", "InvalidDigest"):
                    raise CopyError(
                        "VerifyFailed",
                        f"S3 refused to complete the upload ({code}): its parts do not add up to the "
                        f"{algorithm} {full}; the upload was aborted, run the DAG again",
                        400,
                    ) from exc
                if code != "NoSuchUpload":
                    raise
                # a retried request whose first attempt completed it: the checks below decide
            try:
                verified = self.verify(item, composite_etag([p["ETag"] for p in listed]), source)
            except CopyError as exc:
                self._discard(item, exc, completed.get("ETag"))
                raise
            self._delete_source(item)
            return verified
        except BaseException:
            self.abort_upload(item, upload_id)
            raise

    def complete_spread_upload(self, item: CopyItem, upload_id: str, parts: int) -> CopyResult:
        """Complete an upload whose parts several tasks copied (its parts listed from S3) with
        `complete_upload`, or abort it when a part is missing; one result for the object."""
        try:
            done = self.listed_parts(item, upload_id)
        except Exception as exc:  # noqa: BLE001 - reported per object
            self.abort_upload(item, upload_id)
            return make_result(item, FAILED, exc=exc)
        try:
            if done is None:  # no such upload: an earlier attempt of this step completed it
                verified = self.verify(item, None, stored_checksum(self._source_head(item)))
                return make_result(
                    item, COPIED, f"copied to s3://{item.dest_bucket}/{item.dest_key}", verified=verified
                )
            verified = self.complete_upload(item, upload_id, done, parts)
            return make_result(item, COPIED, f"copied in {parts} parts by several tasks", verified=verified)
        except Exception as exc:  # noqa: BLE001 - reported per object; complete_upload aborted it
            return make_result(item, FAILED, exc=exc)

    def abort_upload(self, item: CopyItem, upload_id: str) -> None:
        """Abort the destination's upload; a leftover upload would keep billing for its parts.
        An upload already gone is fine; any other error is logged, since the object's own
        error is what the report shows (and the report step's sweep aborts it then)."""
        try:
            self.client.abort_multipart_upload(Bucket=item.dest_bucket, Key=item.dest_key, UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001
            if error_info(exc)[0] not in ("NoSuchUpload", "404"):
                log.error(
                    "could not abort upload %s of s3://%s/%s: %s", upload_id, item.dest_bucket, item.dest_key, exc
                )

    def verify(self, item: CopyItem, expected_etag: str | None = None, source: Checksum | None = None) -> str:
        """The destination exists with the source's size, and with the source's stored
        full-object checksum when both have one of the same algorithm, else with
        `expected_etag` (unless SSE-KMS makes ETags opaque). Returns how it was verified
        ("checksum:<ALGORITHM>", "etag" or "size"); raises CopyError("VerifyFailed") otherwise."""
        head = head_object_or_none(self.client, item.dest_bucket, item.dest_key, checksums=True)
        if head is None:
            raise CopyError("VerifyFailed", "destination missing after copy", 404)
        if int(head["ContentLength"]) != item.size:
            raise CopyError("VerifyFailed", f"destination has {head['ContentLength']} bytes, source {item.size}")
        return self._compare(item, source, stored_checksum(head, source.algorithm) if source else None) or (
            self._compare_etag(head.get("ETag"), expected_etag)
        )

    @staticmethod
    def _compare(item: CopyItem, source: Checksum | None, dest: Checksum | None) -> str:
        """ "checksum:<ALGORITHM>" when source and destination hold comparable checksums that
        match; VerifyFailed when they differ; "" when there is nothing to compare."""
        if source is None or dest is None:
            return ""
        if dest.value != source.value:
            raise CopyError(
                "VerifyFailed",
                f"s3://{item.dest_bucket}/{item.dest_key} has {dest.algorithm} {dest.value}, "
                f"its source s3://{item.bucket}/{item.key} {source.value}: the copy is not the source",
            )
        return source.method

    def _compare_md5(self, item: CopyItem, etag: str) -> None:
        """The copy's MD5 is the planned source's; when not, PreconditionFailed if the source
        changed since it was planned (moto ignores CopySourceIfMatch), else VerifyFailed."""
        if clean_etag(etag) == item.etag:
            return
        self._source_head(item)  # raises PreconditionFailed when the source is another object now
        raise CopyError(
            "VerifyFailed",
            f"s3://{item.dest_bucket}/{item.dest_key} has MD5 {clean_etag(etag)}, its source "
            f"s3://{item.bucket}/{item.key} {item.etag}: the copy is not the source",
        )

    def _compare_etag(self, etag: str | None, expected: str | None) -> str:
        if not expected or self.options.sse_kms_key_id:
            return "size"
        if clean_etag(etag) != expected:
            raise CopyError("VerifyFailed", f"destination ETag {clean_etag(etag)}, expected {expected}")
        return "etag"

    def listed_parts(self, item: CopyItem, upload_id: str) -> dict[int, PartDone] | None:
        """The parts an upload holds, from S3 (ListParts); None when it does not exist."""
        try:
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=item.dest_bucket, Key=item.dest_key, UploadId=upload_id
            )
            done: dict[int, PartDone] = {}
            for page in pages:
                algorithm = page.get("ChecksumAlgorithm") or ""
                for p in page.get("Parts", ()):
                    checksum = p.get(f"Checksum{algorithm}") if algorithm else None
                    done[p["PartNumber"]] = PartDone(clean_etag(p.get("ETag")), int(p.get("Size", -1)), checksum)
            return done
        except Exception as exc:
            if error_info(exc)[0] == "NoSuchUpload":
                return None
            raise

    # -- checks ---------------------------------------------------------------------------------
    def _record(
        self, item: CopyItem, status: str, exc: BaseException | None = None, message: str = "", verified: str = ""
    ) -> None:
        result = make_result(item, status, message, exc, verified)
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

    def _source_head(self, item: CopyItem) -> dict[str, Any]:
        """HEAD of the source with its stored checksum; it must still be the planned object."""
        head = head_object_or_none(self.client, item.bucket, item.key, item.version_id, checksums=True)
        if head is None:
            raise CopyError("NoSuchKey", "source does not exist", 404)
        self._check_source_etag(item, head.get("ETag", ""))
        return head

    def _discard(self, item: CopyItem, exc: CopyError, etag: str | None) -> None:
        """A copy that failed its verification must not stay where a re-run's skip check would
        take it for a good one: delete it, if the destination still is the object this copy
        wrote (same ETag), never what another writer put there since."""
        if exc.code not in ("VerifyFailed", "PreconditionFailed") or not etag:
            return
        head = head_object_or_none(self.client, item.dest_bucket, item.dest_key)
        if head is not None and clean_etag(head.get("ETag")) == clean_etag(etag):
            self.client.delete_object(Bucket=item.dest_bucket, Key=item.dest_key)
            log.warning("deleted s3://%s/%s: %s", item.dest_bucket, item.dest_key, exc)

    def _delete_source(self, item: CopyItem) -> None:
        if self.options.delete_source:
            self.client.delete_object(**_source(item))

    # -- single request copy --------------------------------------------------------------------
    def _copy_small(self, item: CopyItem) -> None:
        try:
            if self.options.skip_existing and self.up_to_date(item):
                self._record(item, SKIPPED, message="destination already up to date")
                return
            # a single-part source's ETag is the MD5 of its bytes, which S3 computes again for the
            # copy: one request proves it. Other sources are HEADed for their stored checksum.
            by_md5 = is_plain_md5(item.etag) and not self.options.sse_kms_key_id
            source = None if by_md5 else stored_checksum(self._source_head(item))
            algorithm = destination_algorithm(source)
            resp = self.client.copy_object(
                Bucket=item.dest_bucket,
                Key=item.dest_key,
                CopySource=_source(item),
                MetadataDirective="COPY",
                TaggingDirective="COPY",
                ChecksumAlgorithm=algorithm,
                **_if_match(item),
                **self.options.destination_args(),
            )
            result = resp.get("CopyObjectResult", {})
            # S3 computed the destination's checksum (and MD5) while copying: compared with the
            # source's, they prove the bytes are the planned object's, and a HEAD would only repeat them
            try:
                verified = self._compare(item, source, stored_checksum(result, algorithm))
                if not verified and self._etag_is_md5(item, resp):
                    self._compare_md5(item, result.get("ETag", ""))
                    verified = "etag"
                if not verified:
                    verified = self.verify(item, None, source)
            except CopyError as exc:
                self._discard(item, exc, result.get("ETag"))
                raise
            self._delete_source(item)
            self._record(item, COPIED, message="copied", verified=verified)
        except Exception as exc:  # noqa: BLE001 - recorded per object, the payload goes on
            self._record(item, FAILED, exc)

    # -- multipart copy -------------------------------------------------------------------------
    def _begin(self, item: CopyItem) -> _Upload | None:
        """Skip check, then resume this run's open upload of the object or `start_upload`;
        None when skipped or failed (both recorded)."""
        try:
            if self.options.skip_existing and self.up_to_date(item):
                self._record(item, SKIPPED, message="destination already up to date")
                return None
            resumed = self._resume(item)
            if resumed is not None:
                return resumed
            upload_id = self.start_upload(item)
        except Exception as exc:  # noqa: BLE001
            self._record(item, FAILED, exc)
            return None
        part_size = choose_part_size(item.size, self.options.part_size_floor)
        try:
            entry = self.journal.started(item, upload_id, part_size) if self.journal else None
        except Exception as exc:  # noqa: BLE001 - an upload nobody could find again is not started
            self.abort_upload(item, upload_id)
            self._record(item, FAILED, exc)
            return None
        parts = list(iter_parts(item.size, part_size))
        return _Upload(item, upload_id, parts, owned=True, in_flight=self.options.parts_in_flight, entry=entry)

    def _resume(self, item: CopyItem) -> _Upload | None:
        """The upload an earlier attempt of this run started for `item` and left open, with the
        parts it holds that have the right size; None when there is none to resume. Open
        uploads of the object that cannot be resumed are aborted."""
        if self.journal is None:
            return None
        planned = [item.bucket, item.key, item.version_id, item.etag]
        resumed: _Upload | None = None
        for entry in self.journal.open_entries(item):
            parts = list(iter_parts(item.size, entry.part_size)) if entry.part_size else []
            listed = None
            if resumed is None and entry.source == planned and entry.size == item.size and parts:
                listed = self.listed_parts(item, entry.upload_id)
            if listed is None or any(n > len(parts) for n in listed):
                self.abort_upload(item, entry.upload_id)
                self.journal.finished(entry, ABORTED)
                continue
            kept = {n: p for n, p in listed.items() if p.etag and p.size == parts[n - 1].size}
            log.info(
                "resuming upload %s of s3://%s/%s: %s of %s parts already copied, copying %s",
                entry.upload_id,
                item.dest_bucket,
                item.dest_key,
                len(kept),
                len(parts),
                len(parts) - len(kept),
            )
            resumed = _Upload(
                item,
                entry.upload_id,
                parts,
                owned=True,
                in_flight=self.options.parts_in_flight,
                kept=kept,
                entry=entry,
            )
        return resumed

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
                result = resp["CopyPartResult"]
                # the part's CRC in the upload's algorithm, where the server gives it (S3 does)
                crc = stored_checksum(result)
                checksum = crc.value if crc else None
                with upload.lock:
                    upload.done[part.number] = PartDone(clean_etag(result["ETag"]), part.size, checksum)
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
        copied = len(upload.parts) - upload.kept
        if not upload.owned:  # a chunk of a spread upload: the completion step finishes it
            if upload.error is None:
                kept = f" ({upload.kept} already there)" if upload.kept else ""
                self._record(item, PARTS_COPIED, message=f"parts {item.first_part}-{item.last_part} copied{kept}")
            else:
                self._record(item, PARTS_FAILED, upload.error)
            return
        try:
            if upload.error is not None:
                self.abort_upload(item, upload.upload_id)
                raise upload.error
            verified = self.complete_upload(item, upload.upload_id, upload.done, len(upload.parts))
            self._journal(upload, COMPLETED)
            resumed = f" ({upload.kept} kept from an earlier attempt, {copied} copied now)" if upload.kept else ""
            self._record(item, COPIED, message=f"copied in {len(upload.parts)} parts{resumed}", verified=verified)
        except Exception as exc:  # noqa: BLE001
            self._journal(upload, ABORTED)  # complete_upload aborted it
            self._record(item, FAILED, exc)

    def _journal(self, upload: _Upload, state: str) -> None:
        if self.journal is not None and upload.entry is not None:
            try:
                self.journal.finished(upload.entry, state)
            except Exception as exc:  # noqa: BLE001 - the report step's sweep settles it
                log.warning("could not record upload %s as %s: %s", upload.upload_id, state, exc)

    def _chunk(self, item: CopyItem) -> _Upload:
        """A run of parts of a spread upload; parts an earlier attempt copied are kept."""
        parts = [p for p in iter_parts(item.size, item.part_size) if item.first_part <= p.number <= item.last_part]
        listed = self.listed_parts(item, item.upload_id or "") or {}
        sizes = {p.number: p.size for p in parts}
        kept = {n: p for n, p in listed.items() if n in sizes and p.etag and p.size == sizes[n]}
        return _Upload(
            item, item.upload_id or "", parts, owned=False, in_flight=self.options.parts_in_flight, kept=kept
        )

    def _start_parts(self, pool: ThreadPoolExecutor, upload: _Upload) -> list[Any]:
        if not upload.to_copy:  # everything was there already
            self._finish(upload)
            return []
        return [pool.submit(self._copy_part, upload, p) for p in upload.to_copy]

    # -- entry point ----------------------------------------------------------------------------
    def run(self, items: Iterable[CopyItem]) -> list[CopyResult]:
        threshold = self.options.multipart_threshold
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="s3copy") as pool:
            futures = []
            large: list[CopyItem] = []
            for item in items:
                if item.is_parts:
                    try:
                        futures += self._start_parts(pool, self._chunk(item))
                    except Exception as exc:  # noqa: BLE001 - ListParts failed: the chunk failed
                        self._record(item, PARTS_FAILED, exc)
                elif item.size > threshold:
                    large.append(item)
                else:
                    futures.append(pool.submit(self._copy_small, item))
            # uploads start on the pool too; their parts are queued as each one starts
            starts = {pool.submit(self._begin, item): item for item in large}
            for started in starts:
                upload = started.result()
                if upload is not None:
                    futures += self._start_parts(pool, upload)
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
    journal: UploadJournal | None = None,
) -> list[CopyResult]:
    """Copy one payload with one shared client and `threads` threads; one result per item.

    The client should be created with `shared_client_config(threads)`, so that every thread
    gets a connection and botocore retries throttling. Per-object failures are results, not exceptions."""
    return CopyEngine(client, options, threads=threads, progress=progress, journal=journal).run(items)
