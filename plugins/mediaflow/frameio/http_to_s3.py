"""Copy one HTTP object into S3: a single PUT for small files, parallel ranged GETs feeding a
multipart upload for large ones. No Airflow import, so the benchmark times exactly this.

Shape (after boto's s3transfer): plan the parts, submit them through a bounded window, and
consume the futures in part order. A part's bytes live from its GET until the consumer has
hashed them, and the window admits a new part only when the oldest is consumed, so memory is
at most `window x part size`. Hashing in order gives the whole-file xxh64 without reading
the object back.

Retrying is the libraries' where they can: urllib3's `Retry` on the download session (429 and
5xx honouring `Retry-After`, connection errors) and botocore's retry mode on the S3 client
(`common/aws.py`). What stays here is what they cannot see: a 403 (expired signed URL) asks the
caller for a fresh URL once per expiry and the part goes on at once; a short read (fewer bytes
than the range, or the connection cut mid-body) retries that part alone after a jittered
backoff; a server that ignores Range (200 instead of 206) switches to one sequential stream.
Any failure aborts the multipart upload.

S3 is handed Frame.io's checksum as its own: every PUT and part carries its XXHASH64
(`s3_checksums`), so S3 refuses bytes altered on the way, and what S3 stored (its checksum, else
the ETag) is compared before the copy counts; an object that does not match is removed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
import xxhash
from botocore.config import Config
from botocore.exceptions import ClientError
from urllib3.exceptions import HTTPError as Urllib3Error

from mediaflow.common.aws import client_config
from mediaflow.common.backoff import backoff_delays
from mediaflow.common.parts import MIN_PART_SIZE, MiB, PartRange, choose_part_size, iter_parts
from mediaflow.frameio import s3_checksums as sums
from mediaflow.frameio.session import RETRY_STATUSES, mount_retries, retries_taken, retry_policy

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransferError(RuntimeError):
    """The copy failed; the message names the object and what to do."""


class ChecksumMismatch(TransferError):
    pass


class SizeMismatch(TransferError):
    pass


class UrlExpired(TransferError):
    """The signed download URL answered 403 and no fresh one could be had."""


#: what a server that does not take XXHASH64 multipart uploads answers (SeaweedFS: InvalidRequest)
UNSUPPORTED_CHECKSUM_ERRORS = frozenset({"InvalidRequest", "NotImplemented", "InvalidArgument"})


@dataclass
class _Upload:
    """A multipart upload, whether its parts carry XXHASH64, and the MD5 of each part sent."""

    id: str
    checksums: bool
    md5s: dict[int, bytes] = field(default_factory=dict)


class _NoRange(Exception):
    """The server answered a ranged GET with the whole body."""


class _Expired(Exception):
    """403 on the signed URL; a fresh one has been fetched, so try again at once."""


class _ShortRead(Exception):
    """Fewer bytes than asked for, or the connection broke mid-body: back off, then try again."""


def s3_client_config(max_concurrency: int) -> Config:
    """botocore Config for the S3 client an `HttpToS3` shares among its part threads, with the
    project's retry mode.

    A connection per part in flight. No SHA-256 of each part for the signature: every part
    carries a CRC32 checksum that S3 verifies, which is what botocore already does on its own
    over HTTPS; without this, a plain-HTTP endpoint costs a full hash of every byte in Python.
    """
    return client_config(max_pool_connections=max_concurrency + 4, s3={"payload_signing_enabled": False})


@dataclass
class TransferConfig:
    multipart_threshold: int = 64 * MiB
    #: starting part size; doubled by `choose_part_size` until the object fits in 10,000 parts
    part_size: int = 8 * MiB
    max_concurrency: int = 8
    #: upper bound on part bytes held at once (window x part size); botocore may hold a second
    #: copy of a part while sending it, so peak RSS is about interpreter + 2 x budget
    memory_budget: int = 96 * MiB
    #: tries per download request (429, 5xx, connection errors: retried by urllib3) and per
    #: part after a short read (retried here)
    part_attempts: int = 5
    url_refreshes: int = 5
    #: urllib3's backoff factor for the download session, and the base of the short-read backoff
    backoff_factor: float = 0.5
    chunk_size: int = 1 * MiB
    timeout: float = 60.0


@dataclass
class TransferSpec:
    url: str
    bucket: str
    key: str
    size: int | None = None
    xxh64: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    #: returns a fresh download URL after a 403 (signed URLs expire), or None to give up
    refresh_url: Callable[[], str | None] | None = None


@dataclass
class TransferResult:
    key: str
    size: int
    xxh64: str
    mode: str
    parts: int = 1
    part_retries: int = 0
    url_refreshes: int = 0
    #: how S3's copy was confirmed: "S3 XXHASH64", "ETag (MD5)" or "size"
    verified: str = ""


class _Url:
    """The current download URL, refreshed once per expiry however many parts saw the 403."""

    def __init__(self, spec: TransferSpec, limit: int) -> None:
        self.value = spec.url
        self.generation = 0
        self.refreshes = 0
        self._spec, self._limit = spec, limit
        self._lock = threading.Lock()

    def get(self) -> tuple[str, int]:
        with self._lock:
            return self.value, self.generation

    def refresh(self, seen_generation: int) -> None:
        with self._lock:
            if self.generation != seen_generation:
                return  # another part already refreshed it
            fresh = self._spec.refresh_url() if self._spec.refresh_url and self.refreshes < self._limit else None
            if not fresh:
                raise UrlExpired(
                    f"s3://{self._spec.bucket}/{self._spec.key}: the download URL expired (HTTP 403) and no fresh "
                    "URL could be obtained; check the API token can still read the asset, then re-run"
                )
            self.value, self.generation, self.refreshes = fresh, self.generation + 1, self.refreshes + 1


class _Tally:
    """Retries of one part (or one small file, or one stream): urllib3's and ours."""

    def __init__(self) -> None:
        self.retries = 0


def _read_into(resp: requests.Response, buf: memoryview, chunk: int) -> int:
    """Fill `buf` from the body; a connection that breaks mid-body is a short read."""
    got = 0
    try:
        while got < len(buf):
            n = resp.raw.readinto(buf[got : got + chunk])
            if not n:
                break
            got += n
    except (Urllib3Error, OSError) as exc:
        raise _ShortRead(f"connection broke after {got} of {len(buf)} bytes: {type(exc).__name__}") from None
    return got


class HttpToS3:
    """One engine per worker: it shares the boto3 client and the requests session across files.

    urllib3's retries are mounted on the session (a given one or a new one), with a connection
    per part in flight."""

    def __init__(self, s3: Any, session: requests.Session | None = None, config: TransferConfig | None = None) -> None:
        self.s3 = s3
        self.config = config or TransferConfig()
        retry = retry_policy(self.config.part_attempts - 1, self.config.backoff_factor)
        self.session = mount_retries(session or requests.Session(), retry, self.config.max_concurrency + 2)

    # -- entry point ---------------------------------------------------------------------------
    def transfer(self, spec: TransferSpec) -> TransferResult:
        url = _Url(spec, self.config.url_refreshes)
        if spec.size is not None and spec.size < max(self.config.multipart_threshold, 1):
            result = self._single(spec, url)
        else:
            try:
                result = self._multipart(spec, url, ranged=spec.size is not None)
            except _NoRange:
                log.info("%s: server ignores Range; copying as one stream", spec.key)
                result = self._multipart(spec, url, ranged=False)
        result.url_refreshes = url.refreshes
        return result

    # -- small files ---------------------------------------------------------------------------
    def _single(self, spec: TransferSpec, url: _Url) -> TransferResult:
        def fetch(tally: _Tally) -> bytes:
            current, generation = url.get()
            with self._get(spec, current, tally) as resp:
                self._check_status(resp, spec, url, generation, ranged=False)
                buf = bytearray(spec.size or 0)
                got = _read_into(resp, memoryview(buf), self.config.chunk_size)
                extra = _read_into(resp, memoryview(bytearray(1)), 1)
                if got != len(buf) or extra:
                    raise SizeMismatch(_size_message(spec, got + extra))
                return buf

        body, retries = self._with_retry(spec, fetch)
        hashed = xxhash.xxh64(body)
        digest = hashed.hexdigest()
        self._verify(spec, len(body), digest)
        metadata = {**spec.metadata, "frameio-xxh64": spec.xxh64 or digest}
        extra = {"ContentType": spec.content_type} if spec.content_type else {}
        checksum = sums.b64(hashed.digest())  # Frame.io's xxh64 (verified equal above), as S3 takes it
        put = self.s3.put_object(
            Bucket=spec.bucket, Key=spec.key, Body=body, Metadata=metadata, ChecksumXXHASH64=checksum, **extra
        )
        # the MD5 is only needed where S3 does not answer with the checksum it checked (local servers)
        expected_etag = None if sums.stored_xxh64(put) else sums.md5(body).hex()
        self._confirm(spec, put, checksum, expected_etag)
        verified = self._confirm(spec, self._head(spec), checksum, expected_etag)
        return TransferResult(spec.key, len(body), digest, "single", 1, retries, verified=verified)

    # -- large files ---------------------------------------------------------------------------
    def _multipart(self, spec: TransferSpec, url: _Url, *, ranged: bool) -> TransferResult:
        metadata = dict(spec.metadata)
        if spec.xxh64:
            metadata["frameio-xxh64"] = spec.xxh64
        extra = {"ContentType": spec.content_type} if spec.content_type else {}
        upload = self._create(spec, metadata, extra)
        try:
            copy = self._ranged_parts if ranged else self._streamed_parts
            return copy(spec, url, upload)
        except BaseException:
            self._abort(spec, upload.id)
            raise

    def _create(self, spec: TransferSpec, metadata: dict[str, str], extra: dict[str, str]) -> _Upload:
        """CreateMultipartUpload asking for XXHASH64 parts; without, where the server refuses it."""
        args = {"Bucket": spec.bucket, "Key": spec.key, "Metadata": metadata, **extra}
        try:
            return _Upload(self.s3.create_multipart_upload(**args, ChecksumAlgorithm=sums.ALGORITHM)["UploadId"], True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in UNSUPPORTED_CHECKSUM_ERRORS:
                raise
        log.info("%s: the S3 server takes no XXHASH64 multipart uploads; parts are checked by ETag", spec.key)
        return _Upload(self.s3.create_multipart_upload(**args)["UploadId"], False)

    def _send_part(self, spec: TransferSpec, upload: _Upload, number: int, data: bytearray) -> dict[str, Any]:
        """UploadPart with the part's XXHASH64; the part entry for CompleteMultipartUpload once
        S3's answer (its checksum, else its ETag) shows it holds the bytes sent."""
        checksum = sums.xxh64_b64(data) if upload.checksums else None
        kwargs = {"ChecksumXXHASH64": checksum} if checksum else {}
        answer = self.s3.upload_part(
            Bucket=spec.bucket, Key=spec.key, UploadId=upload.id, PartNumber=number, Body=data, **kwargs
        )
        digest = None if checksum and sums.stored_xxh64(answer) else sums.md5(data)
        ok, how = sums.confirm(answer, checksum, digest.hex() if digest else None)
        if not ok:
            raise ChecksumMismatch(
                f"s3://{spec.bucket}/{spec.key}: part {number} arrived in S3 altered ({how} differs from the bytes "
                "sent); the upload was aborted and nothing was written. Check the network path to S3, then re-run"
            )
        if digest:
            upload.md5s[number] = digest
        return {"PartNumber": number, "ETag": answer["ETag"], **({"ChecksumXXHASH64": checksum} if checksum else {})}

    def _part_size(self, size: int) -> int:
        return max(MIN_PART_SIZE, choose_part_size(size, initial=max(MIN_PART_SIZE, self.config.part_size)))

    def _ranged_parts(self, spec: TransferSpec, url: _Url, upload: _Upload) -> TransferResult:
        size = spec.size or 0
        part_size = self._part_size(size)
        window = max(1, min(self.config.max_concurrency, self.config.memory_budget // part_size))
        parts = iter_parts(size, part_size)
        hasher = xxhash.xxh64()
        done: list[dict[str, Any]] = []
        retries = total = 0
        inflight: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=window, thread_name_prefix="part") as pool:
            try:
                for part in parts:
                    inflight.append(pool.submit(self._ranged_part, spec, url, upload, part))
                    if len(inflight) >= window:
                        size_done, retried = self._consume(inflight.popleft(), hasher, done)
                        total, retries = total + size_done, retries + retried
                while inflight:
                    size_done, retried = self._consume(inflight.popleft(), hasher, done)
                    total, retries = total + size_done, retries + retried
            except BaseException:
                for future in inflight:
                    future.cancel()
                raise
        digest = hasher.hexdigest()
        self._verify(spec, total, digest)
        verified = self._complete(spec, upload, done, total)
        return TransferResult(spec.key, total, digest, "ranged", len(done), retries, verified=verified)

    @staticmethod
    def _consume(future: Future, hasher: Any, done: list[dict[str, Any]]) -> tuple[int, int]:
        """Hash a finished part in order; its size and how many retries it took."""
        (entry, data), retries = future.result()
        hasher.update(data)
        done.append(entry)
        return len(data), retries

    def _ranged_part(
        self, spec: TransferSpec, url: _Url, upload: _Upload, part: PartRange
    ) -> tuple[tuple[dict[str, Any], bytearray], int]:
        def fetch(tally: _Tally) -> bytearray:
            current, generation = url.get()
            with self._get(spec, current, tally, {"Range": part.http_range}) as resp:
                self._check_status(resp, spec, url, generation, ranged=True)
                total = resp.headers.get("Content-Range", "").rpartition("/")[2]
                if spec.size is not None and total.isdigit() and int(total) != spec.size:
                    raise SizeMismatch(_size_message(spec, int(total)))
                buf = bytearray(part.size)
                got = _read_into(resp, memoryview(buf), self.config.chunk_size)
                if got != part.size:
                    raise _ShortRead(f"part {part.number}: got {got} of {part.size} bytes")
                return buf

        def fetch_and_upload(tally: _Tally) -> tuple[dict[str, Any], bytearray]:
            data = fetch(tally)
            return self._send_part(spec, upload, part.number, data), data

        return self._with_retry(spec, fetch_and_upload)

    def _streamed_parts(self, spec: TransferSpec, url: _Url, upload: _Upload) -> TransferResult:
        """No Range support (or unknown size): one GET, cut into parts as it arrives. A retry
        starts the stream over and overwrites the parts already sent (same part numbers)."""
        part_size = self._part_size(spec.size or 0)

        def stream(tally: _Tally) -> tuple[int, str, list[dict[str, Any]]]:
            current, generation = url.get()
            hasher = xxhash.xxh64()
            done: list[dict[str, Any]] = []
            total = 0
            with self._get(spec, current, tally) as resp:
                self._check_status(resp, spec, url, generation, ranged=False)
                number = 1
                while True:
                    buf = bytearray(part_size)
                    got = _read_into(resp, memoryview(buf), self.config.chunk_size)
                    if got == 0 and number > 1:
                        break
                    del buf[got:]
                    hasher.update(buf)
                    done.append(self._send_part(spec, upload, number, buf))
                    total += got
                    number += 1
                    if got < part_size:
                        break
            return total, hasher.hexdigest(), done

        (total, digest, done), retries = self._with_retry(spec, stream)
        self._verify(spec, total, digest)
        verified = self._complete(spec, upload, done, total)
        return TransferResult(spec.key, total, digest, "stream", len(done), retries, verified=verified)

    # -- shared pieces -------------------------------------------------------------------------
    def _get(
        self, spec: TransferSpec, url: str, tally: _Tally, headers: dict[str, str] | None = None
    ) -> requests.Response:
        """A streamed GET through the retrying session; connection errors that outlast urllib3's
        retries fail the copy, naming the object (never the signed URL)."""
        try:
            resp = self.session.get(url, headers=headers, stream=True, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise TransferError(
                f"s3://{spec.bucket}/{spec.key}: downloading the original failed ({type(exc).__name__}; "
                f"connection errors are tried {self.config.part_attempts} times); check the network, then re-run"
            ) from None
        tally.retries += retries_taken(resp)
        return resp

    def _check_status(
        self, resp: requests.Response, spec: TransferSpec, url: _Url, generation: int, *, ranged: bool
    ) -> None:
        if resp.status_code == 403:
            url.refresh(generation)
            raise _Expired()
        if ranged and resp.status_code == 200:
            raise _NoRange()
        if resp.status_code == (206 if ranged else 200):
            return
        where = f"s3://{spec.bucket}/{spec.key}: downloading the original answered HTTP {resp.status_code}"
        if resp.status_code in RETRY_STATUSES:
            raise TransferError(
                f"{where} after {retries_taken(resp)} retries; the server is throttling or failing, re-run later"
            )
        raise TransferError(f"{where}; check the asset still exists and the token may download it")

    def _with_retry(self, spec: TransferSpec, fn: Callable[[_Tally], T]) -> tuple[T, int]:
        """Call `fn` until it returns, with what urllib3 cannot retry: after an expired URL was
        refreshed, at once (`_Url` bounds the refreshes); after a short read, alone and after a
        jittered backoff. Returns the value and how many retries it took, urllib3's included."""
        tally = _Tally()
        delays = backoff_delays(self.config.part_attempts, base=self.config.backoff_factor)
        while True:
            try:
                return fn(tally), tally.retries
            except _Expired:
                continue
            except _ShortRead as exc:
                delay = next(delays, None)
                if delay is None:
                    raise TransferError(
                        f"s3://{spec.bucket}/{spec.key}: giving up after {self.config.part_attempts} short reads "
                        f"({exc}); the download keeps breaking off, re-run later"
                    ) from None
            tally.retries += 1
            time.sleep(delay)

    @staticmethod
    def _verify(spec: TransferSpec, size: int, digest: str) -> None:
        if spec.size is not None and size != spec.size:
            raise SizeMismatch(_size_message(spec, size))
        if spec.xxh64 and digest.lower() != spec.xxh64.lower().rjust(16, "0"):
            raise ChecksumMismatch(
                f"s3://{spec.bucket}/{spec.key}: xxh64 of the downloaded bytes is {digest}, Frame.io says "
                f"{spec.xxh64}; the original changed or was corrupted in transit. Nothing was written; re-run "
                "the backup, and if it persists re-upload the asset to Frame.io"
            )

    def _complete(self, spec: TransferSpec, upload: _Upload, done: list[dict[str, Any]], size: int) -> str:
        """Complete the upload, then confirm what S3 stored: its composite XXHASH64, else the
        multipart ETag, and the size. Returns how it was confirmed."""
        done.sort(key=lambda p: p["PartNumber"])
        self.s3.complete_multipart_upload(
            Bucket=spec.bucket, Key=spec.key, UploadId=upload.id, MultipartUpload={"Parts": done}
        )
        checksum = sums.composite([p["ChecksumXXHASH64"] for p in done]) if upload.checksums else None
        known = [upload.md5s.get(p["PartNumber"]) for p in done]
        etag = sums.multipart_etag(known) if all(known) else None
        head = self._head(spec)
        if int(head.get("ContentLength", size)) != size:
            self._remove(spec, f"S3 holds {head.get('ContentLength')} bytes, {size} were sent")
        return self._confirm(spec, head, checksum, etag)

    def _head(self, spec: TransferSpec) -> dict[str, Any]:
        return self.s3.head_object(Bucket=spec.bucket, Key=spec.key, ChecksumMode="ENABLED")

    def _confirm(self, spec: TransferSpec, answer: dict[str, Any], checksum: str | None, etag: str | None) -> str:
        """How S3's copy matches the bytes sent; an object that does not is removed."""
        ok, how = sums.confirm(answer, checksum, etag)
        if not ok:
            self._remove(spec, f"its {how} differs from the bytes sent")
        return how

    def _remove(self, spec: TransferSpec, why: str) -> None:
        self.s3.delete_object(Bucket=spec.bucket, Key=spec.key)
        raise ChecksumMismatch(
            f"s3://{spec.bucket}/{spec.key}: the object arrived in S3 altered ({why}); it was removed, so nothing "
            "is left behind. Check the network path to S3, then re-run the backup"
        )

    def _abort(self, spec: TransferSpec, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=spec.bucket, Key=spec.key, UploadId=upload_id)
        except Exception:  # noqa: BLE001 - the original error matters more; lifecycle rules catch leftovers
            log.warning("could not abort multipart upload %s of s3://%s/%s", upload_id, spec.bucket, spec.key)


def _size_message(spec: TransferSpec, got: int) -> str:
    return (
        f"s3://{spec.bucket}/{spec.key}: received {got} bytes, Frame.io says {spec.size}; the original changed "
        "during the copy or the download was cut short. Nothing was written; re-run the backup"
    )
