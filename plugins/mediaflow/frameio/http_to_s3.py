"""Copy one HTTP object into S3: a single PUT for small files, parallel ranged GETs feeding a
multipart upload for large ones. No Airflow import, so the benchmark times exactly this.

Shape (after boto's s3transfer): plan the parts, submit them through a bounded window, and
consume the futures in part order. A part's bytes live from its GET until the consumer has
hashed them, and the window admits a new part only when the oldest is consumed, so memory is
at most `window x part size`. Hashing in order gives the whole-file xxh64 without reading
the object back. A failed part is retried alone; a 403 (expired signed URL) asks the caller
for a fresh URL once per expiry and continues; a server that ignores Range (200 instead of
206) switches to one sequential stream. Any failure aborts the multipart upload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
import xxhash

from mediaflow.common.parts import MIN_PART_SIZE, MiB, PartRange, choose_part_size, iter_parts
from mediaflow.common.retry import backoff_delays

log = logging.getLogger(__name__)


class TransferError(RuntimeError):
    """The copy failed; the message names the object and what to do."""


class ChecksumMismatch(TransferError):
    pass


class SizeMismatch(TransferError):
    pass


class UrlExpired(TransferError):
    """The signed download URL answered 403 and no fresh one could be had."""


class _NoRange(Exception):
    """The server answered a ranged GET with the whole body."""


class _Retryable(Exception):
    pass


class _Expired(_Retryable):
    """403 on the signed URL; a fresh one has been fetched, so try again at once."""


def s3_client_config(max_concurrency: int) -> dict[str, Any]:
    """botocore Config arguments for the S3 client an `HttpToS3` shares among its part threads.

    A connection per part in flight. No SHA-256 of each part for the signature: every part
    carries a CRC32 checksum that S3 verifies, which is what botocore already does on its own
    over HTTPS; without this, a plain-HTTP endpoint costs a full hash of every byte in Python.
    """
    return {"max_pool_connections": max_concurrency + 4, "s3": {"payload_signing_enabled": False}}


@dataclass
class TransferConfig:
    multipart_threshold: int = 64 * MiB
    #: starting part size; doubled by `choose_part_size` until the object fits in 10,000 parts
    part_size: int = 8 * MiB
    max_concurrency: int = 8
    #: upper bound on part bytes held at once (window x part size); botocore may hold a second
    #: copy of a part while sending it, so peak RSS is about interpreter + 2 x budget
    memory_budget: int = 96 * MiB
    part_attempts: int = 5
    url_refreshes: int = 5
    backoff_base: float = 0.5
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


def _read_into(resp: requests.Response, buf: memoryview, chunk: int) -> int:
    got = 0
    while got < len(buf):
        n = resp.raw.readinto(buf[got : got + chunk])
        if not n:
            break
        got += n
    return got


class HttpToS3:
    """One engine per worker: it shares the boto3 client and the requests session across files."""

    def __init__(self, s3: Any, session: requests.Session | None = None, config: TransferConfig | None = None) -> None:
        self.s3 = s3
        self.session = session or requests.Session()
        self.config = config or TransferConfig()

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
        def fetch() -> bytes:
            current, generation = url.get()
            with self.session.get(current, stream=True, timeout=self.config.timeout) as resp:
                self._check_status(resp, spec, url, generation, ranged=False)
                buf = bytearray(spec.size or 0)
                got = _read_into(resp, memoryview(buf), self.config.chunk_size)
                extra = resp.raw.read(1)
                if got != len(buf) or extra:
                    raise SizeMismatch(_size_message(spec, got + len(extra)))
                return buf

        retries = [0]
        body = self._with_retry(fetch, retries)
        digest = xxhash.xxh64(body).hexdigest()
        self._verify(spec, len(body), digest)
        metadata = {**spec.metadata, "frameio-xxh64": spec.xxh64 or digest}
        extra = {"ContentType": spec.content_type} if spec.content_type else {}
        self.s3.put_object(Bucket=spec.bucket, Key=spec.key, Body=body, Metadata=metadata, **extra)
        return TransferResult(spec.key, len(body), digest, "single", 1, retries[0])

    # -- large files ---------------------------------------------------------------------------
    def _multipart(self, spec: TransferSpec, url: _Url, *, ranged: bool) -> TransferResult:
        metadata = dict(spec.metadata)
        if spec.xxh64:
            metadata["frameio-xxh64"] = spec.xxh64
        extra = {"ContentType": spec.content_type} if spec.content_type else {}
        upload_id = self.s3.create_multipart_upload(Bucket=spec.bucket, Key=spec.key, Metadata=metadata, **extra)[
            "UploadId"
        ]
        try:
            copy = self._ranged_parts if ranged else self._streamed_parts
            return copy(spec, url, upload_id)
        except BaseException:
            self._abort(spec, upload_id)
            raise

    def _part_size(self, size: int) -> int:
        return max(MIN_PART_SIZE, choose_part_size(size, initial=max(MIN_PART_SIZE, self.config.part_size)))

    def _ranged_parts(self, spec: TransferSpec, url: _Url, upload_id: str) -> TransferResult:
        size = spec.size or 0
        part_size = self._part_size(size)
        window = max(1, min(self.config.max_concurrency, self.config.memory_budget // part_size))
        parts = iter_parts(size, part_size)
        hasher = xxhash.xxh64()
        done: list[dict[str, Any]] = []
        retries = [0]
        total = 0
        inflight: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=window, thread_name_prefix="part") as pool:
            try:
                for part in parts:
                    inflight.append(pool.submit(self._ranged_part, spec, url, upload_id, part, retries))
                    if len(inflight) >= window:
                        total += self._consume(inflight.popleft(), hasher, done)
                while inflight:
                    total += self._consume(inflight.popleft(), hasher, done)
            except BaseException:
                for future in inflight:
                    future.cancel()
                raise
        digest = hasher.hexdigest()
        self._verify(spec, total, digest)
        self._complete(spec, upload_id, done)
        return TransferResult(spec.key, total, digest, "ranged", len(done), retries[0])

    @staticmethod
    def _consume(future: Future, hasher: Any, done: list[dict[str, Any]]) -> int:
        number, etag, data = future.result()
        hasher.update(data)
        done.append({"PartNumber": number, "ETag": etag})
        return len(data)

    def _ranged_part(
        self, spec: TransferSpec, url: _Url, upload_id: str, part: PartRange, retries: list[int]
    ) -> tuple[int, str, bytearray]:
        def fetch() -> bytearray:
            current, generation = url.get()
            headers = {"Range": part.http_range}
            with self.session.get(current, headers=headers, stream=True, timeout=self.config.timeout) as resp:
                self._check_status(resp, spec, url, generation, ranged=True)
                total = resp.headers.get("Content-Range", "").rpartition("/")[2]
                if spec.size is not None and total.isdigit() and int(total) != spec.size:
                    raise SizeMismatch(_size_message(spec, int(total)))
                buf = bytearray(part.size)
                got = _read_into(resp, memoryview(buf), self.config.chunk_size)
                if got != part.size:
                    raise _Retryable(f"part {part.number}: got {got} of {part.size} bytes")
                return buf

        def fetch_and_upload() -> tuple[int, str, bytearray]:
            data = fetch()
            etag = self.s3.upload_part(
                Bucket=spec.bucket, Key=spec.key, UploadId=upload_id, PartNumber=part.number, Body=data
            )["ETag"]
            return part.number, etag, data

        return self._with_retry(fetch_and_upload, retries)

    def _streamed_parts(self, spec: TransferSpec, url: _Url, upload_id: str) -> TransferResult:
        """No Range support (or unknown size): one GET, cut into parts as it arrives. A retry
        starts the stream over and overwrites the parts already sent (same part numbers)."""
        part_size = self._part_size(spec.size or 0)

        def stream() -> tuple[int, str, list[dict[str, Any]]]:
            current, generation = url.get()
            hasher = xxhash.xxh64()
            done: list[dict[str, Any]] = []
            total = 0
            with self.session.get(current, stream=True, timeout=self.config.timeout) as resp:
                self._check_status(resp, spec, url, generation, ranged=False)
                number = 1
                while True:
                    buf = bytearray(part_size)
                    got = _read_into(resp, memoryview(buf), self.config.chunk_size)
                    if got == 0 and number > 1:
                        break
                    del buf[got:]
                    hasher.update(buf)
                    etag = self.s3.upload_part(
                        Bucket=spec.bucket, Key=spec.key, UploadId=upload_id, PartNumber=number, Body=buf
                    )["ETag"]
                    done.append({"PartNumber": number, "ETag": etag})
                    total += got
                    number += 1
                    if got < part_size:
                        break
            return total, hasher.hexdigest(), done

        retries = [0]
        total, digest, done = self._with_retry(stream, retries)
        self._verify(spec, total, digest)
        self._complete(spec, upload_id, done)
        return TransferResult(spec.key, total, digest, "stream", len(done), retries[0])

    # -- shared pieces -------------------------------------------------------------------------
    def _check_status(
        self, resp: requests.Response, spec: TransferSpec, url: _Url, generation: int, *, ranged: bool
    ) -> None:
        if resp.status_code == 403:
            url.refresh(generation)
            raise _Expired("download URL expired (403); refreshed")
        if ranged and resp.status_code == 200:
            raise _NoRange()
        if resp.status_code == (206 if ranged else 200):
            return
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}")
        raise TransferError(
            f"s3://{spec.bucket}/{spec.key}: downloading the original answered HTTP {resp.status_code}; "
            "check the asset still exists and the token may download it"
        )

    def _with_retry(self, fn: Callable[[], Any], retries: list[int]) -> Any:
        """Retry one part (or one small file) alone; an expired URL does not use up attempts."""
        delays = backoff_delays(self.config.part_attempts, base=self.config.backoff_base)
        refresh_budget = self.config.url_refreshes + 1
        while True:
            try:
                return fn()
            except _Retryable as exc:
                if isinstance(exc, _Expired) and refresh_budget > 0:
                    refresh_budget -= 1
                    continue
                delay = next(delays, None)
                if delay is None:
                    raise TransferError(f"giving up after {self.config.part_attempts} attempts: {exc}") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                delay = next(delays, None)
                if delay is None:
                    raise TransferError(f"giving up after {self.config.part_attempts} attempts: {exc}") from None
            retries[0] += 1
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

    def _complete(self, spec: TransferSpec, upload_id: str, done: list[dict[str, Any]]) -> None:
        done.sort(key=lambda p: p["PartNumber"])
        self.s3.complete_multipart_upload(
            Bucket=spec.bucket, Key=spec.key, UploadId=upload_id, MultipartUpload={"Parts": done}
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
