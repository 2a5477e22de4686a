"""Streamed inventories for the bulk copy: a live listing, an S3 Batch Operations CSV manifest,
or an S3 Inventory report. Each yields `SourceObject` tuples one at a time, so the planner can
take millions of rows without the whole list ever being in memory.

Rows without size or ETag (a CSV manifest only names keys) are completed with HEAD requests on a
small thread pool; a HEAD that finds nothing becomes a `Rejected` row that the report carries.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import unquote, unquote_plus

from isal import isal_zlib

from mediaflow.common.errors import InputError
from mediaflow.common.s3 import clean_etag, error_info, is_not_found, parse_s3_uri

#: storage classes whose objects must be restored before S3 will copy them
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


class SourceObject(NamedTuple):
    """One object to copy. A tuple, not a dict: a million of them must stay small."""

    bucket: str
    key: str
    version_id: str | None
    size: int
    etag: str
    last_modified: float  # epoch seconds; 0.0 when the source did not say
    storage_class: str = "STANDARD"
    restored: bool | None = None  # None: not an archive class, or not known yet


class Rejected(NamedTuple):
    """An object named by the inventory that will not be copied, and why (for the report)."""

    bucket: str
    key: str
    version_id: str | None
    error_code: str
    http_status: int
    message: str


def _epoch(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


# -- live listing --------------------------------------------------------------------------------
def iter_listing(client: Any, bucket: str, prefix: str = "", *, delimiter: str = "") -> Iterator[SourceObject]:
    """ListObjectsV2, page by page (1,000 keys a page), latest versions only, in key order.
    With a `delimiter`, only the objects directly under `prefix`."""
    paginator = client.get_paginator("list_objects_v2")
    extra = {"Delimiter": delimiter} if delimiter else {}
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **extra):
        for item in page.get("Contents", ()):
            yield SourceObject(
                bucket,
                item["Key"],
                None,
                int(item["Size"]),
                clean_etag(item.get("ETag")),
                _epoch(item.get("LastModified")),
                item.get("StorageClass") or "STANDARD",
            )


# -- S3 Batch Operations CSV manifest -----------------------------------------------------------
def _text_lines(body: Any, gzipped: bool = False) -> Iterator[str]:
    """Decode a streaming S3 body line by line (gzip on the fly) without reading it whole.

    A gzip body is read and decompressed ahead on a thread (both release the GIL), a few MiB at
    most, so the network and inflating (ISA-L's, about twice zlib's speed) overlap the parsing
    of the rows."""
    if not gzipped:
        yield from io.TextIOWrapper(body, encoding="utf-8", newline="")
        return
    reader = _Prefetched(_gunzip_chunks(body))
    try:
        yield from io.TextIOWrapper(io.BufferedReader(reader, 1024**2), encoding="utf-8", newline="")
    finally:
        reader.close()


def _inventory_lines(body: Any, gzipped: bool) -> Iterator[list[str]]:
    """The lines of an S3 Inventory data file without their line ends, a list per decoded
    chunk (a few MiB).

    S3 ends every row with '\n'. Splitting a decoded chunk at once is cheaper than reading a
    text stream line by line. (A row ending '\r\n' keeps its '\r'; the row parser's fallback
    reads it as the csv module does.)"""
    reader = _Prefetched(_gunzip_chunks(body)) if gzipped else None
    chunks = reader.chunks() if reader is not None else iter(lambda: body.read(1024**2), b"")
    carry = b""
    try:
        for chunk in chunks:
            cut = chunk.rfind(b"\n") + 1
            if not cut:  # a line longer than a chunk
                carry += chunk
                continue
            lines = (carry + chunk[:cut] if carry else chunk[:cut]).decode("utf-8").split("\n")
            lines.pop()  # the empty text after the last '\n'
            carry = chunk[cut:]
            yield lines
        if carry:
            yield [carry.decode("utf-8")]
    finally:
        if reader is not None:
            reader.close()


def _gunzip_chunks(body: Any, size: int = 1024**2) -> Iterator[bytes]:
    """The decompressed bytes of a gzip stream (one member or several), chunk by chunk."""
    unzip, fed = isal_zlib.decompressobj(wbits=31), False
    while chunk := body.read(size):
        while chunk:
            fed = True
            out = unzip.decompress(chunk)
            if out:
                yield out
            if not unzip.eof:
                break
            chunk = unzip.unused_data  # the next member, if the stream holds more than one
            unzip, fed = isal_zlib.decompressobj(wbits=31), False
    if fed and not unzip.eof:
        raise EOFError("the gzip data ends before its end marker: the file is truncated")


class _Prefetched(io.RawIOBase):
    """A readable stream over chunks that a thread produces ahead, at most `depth` of them."""

    def __init__(self, chunks: Iterator[bytes], depth: int = 4) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(depth)
        self._stop = threading.Event()
        self._buf = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(target=self._fill, args=(chunks,), name="inventory-read", daemon=True)
        self._thread.start()

    def _fill(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                while not self._stop.is_set():
                    try:
                        self._queue.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(None)
        except BaseException as exc:  # noqa: BLE001 - raised again in the reading thread
            self._queue.put(exc)

    def readable(self) -> bool:
        return True

    def _next(self) -> bytes | None:
        """The next chunk, or None at the end; an error of the reading thread is raised here."""
        if self._done:
            return None
        item = self._queue.get()
        if item is None or isinstance(item, BaseException):
            self._done = True
            if item is not None:
                raise item
            return None
        return item

    def chunks(self) -> Iterator[bytes]:
        """The chunks themselves, in order, for a reader that needs no file object."""
        while (chunk := self._next()) is not None:
            yield chunk

    def readinto(self, buffer: Any) -> int:
        while not self._buf and (chunk := self._next()) is not None:
            self._buf = memoryview(chunk)
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._stop.set()
        super().close()


def iter_csv_manifest_rows(lines: Iterable[str]) -> Iterator[tuple[str, str, str | None]]:
    """(bucket, key, version_id) from Batch Operations CSV rows; keys are URL-encoded there."""
    for row in csv.reader(lines):
        if not row or not row[0].strip():
            continue
        if len(row) < 2:
            raise InputError(f"manifest row {row!r} has no key column; rows are bucket,key[,version_id]")
        version = row[2].strip() if len(row) > 2 and row[2].strip() else None
        yield row[0].strip(), unquote_plus(row[1]), version


def head_objects(
    client: Any, rows: Iterable[tuple[str, str, str | None]], *, workers: int = 16, window: int = 512
) -> Iterator[SourceObject | Rejected]:
    """HEAD each (bucket, key, version) on a thread pool, in order, at most `window` in flight."""

    def head(row: tuple[str, str, str | None]) -> SourceObject | Rejected:
        bucket, key, version = row
        kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        try:
            meta = client.head_object(**kwargs)
        except Exception as exc:  # noqa: BLE001 - becomes a report row naming the object
            code, status, _ = error_info(exc)
            if is_not_found(exc):
                code, status = "NoSuchKey", 404
                msg = f"s3://{bucket}/{key} does not exist; remove it from the manifest or restore it"
            else:
                msg = f"HEAD s3://{bucket}/{key} failed: {exc}"
            return Rejected(bucket, key, version, code, status, msg)
        return object_from_head(bucket, key, version, meta)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="head") as pool:
        pending: list = []
        for row in rows:
            pending.append(pool.submit(head, row))
            if len(pending) >= window:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def object_from_head(bucket: str, key: str, version: str | None, meta: dict[str, Any]) -> SourceObject:
    storage = meta.get("StorageClass") or "STANDARD"
    restored = None
    if storage in ARCHIVE_CLASSES:
        restored = 'ongoing-request="false"' in (meta.get("Restore") or "")
    return SourceObject(
        bucket,
        key,
        version,
        int(meta["ContentLength"]),
        clean_etag(meta.get("ETag")),
        _epoch(meta.get("LastModified")),
        storage,
        restored,
    )


# -- S3 Inventory report ------------------------------------------------------------------------
def iter_inventory_rows(
    manifest: dict[str, Any], open_data: Callable[[str, str], Any], *, times: bool = True
) -> Iterator[SourceObject]:
    """Rows of an S3 Inventory report (CSV). `open_data(bucket, key)` returns a streaming body.

    Delete markers and non-current versions are left out: a copy reproduces the current state.
    `times=False` leaves `last_modified` at 0.0 (parsing it is a tenth of the reading time; only
    the `modified_after` filter needs it).
    """
    fmt = str(manifest.get("fileFormat", "CSV")).upper()
    if fmt != "CSV":
        raise InputError(f"S3 Inventory format {fmt} is not supported; configure the inventory as CSV")
    columns = [c.strip() for c in manifest["fileSchema"].split(",")]
    col = {name: i for i, name in enumerate(columns)}
    for needed in ("Bucket", "Key"):
        if needed not in col:
            raise InputError(f"S3 Inventory schema {manifest['fileSchema']!r} has no {needed} column")
    data_bucket = manifest.get("destinationBucket", "").removeprefix("arn:aws:s3:::")
    width = len(columns)
    i_bucket, i_key = col["Bucket"], col["Key"]
    i_version, i_size, i_etag = col.get("VersionId"), col.get("Size"), col.get("ETag")
    i_modified, i_class = col.get("LastModifiedDate") if times else None, col.get("StorageClass")
    i_marker, i_latest = col.get("IsDeleteMarker"), col.get("IsLatest")
    parse_time = _epoch_cache()
    quotes = 2 * width  # S3 quotes every field and URL-encodes keys: no quote inside a field
    make = tuple.__new__  # SourceObject's own constructor is a Python function: one call less a row
    for entry in manifest.get("files", ()):
        body = open_data(data_bucket, entry["key"])
        for lines in _inventory_lines(body, gzipped=entry["key"].endswith(".gz")):
            for line in lines:
                # the usual S3 line splits exactly on '","'; anything else (another tool's CSV,
                # a short row, a quote inside a field) goes through the csv module
                row = line[1:-1].split('","') if line.count('"') == quotes and line.endswith('"') else ()
                if len(row) != width or line[:1] != '"':
                    row = next(csv.reader([line]), [])
                    if len(row) < width:
                        if not row:
                            continue
                        row = row + [""] * (width - len(row))
                if i_marker is not None and row[i_marker].lower() == "true":
                    continue
                if i_latest is not None and row[i_latest].lower() == "false":
                    continue
                size = row[i_size] if i_size is not None else ""
                if size == "":
                    continue  # a delete marker in an inventory without IsDeleteMarker
                yield make(
                    SourceObject,
                    (
                        row[i_bucket],
                        unquote_key(row[i_key]),
                        (row[i_version] or None) if i_version is not None else None,
                        int(size),
                        clean_etag(row[i_etag]) if i_etag is not None else "",
                        parse_time(row[i_modified]) if i_modified is not None else 0.0,
                        (row[i_class] or "STANDARD") if i_class is not None else "STANDARD",
                        None,
                    ),
                )


def unquote_key(text: str) -> str:
    """`unquote_plus` for the URL-encoded keys of inventories, about five times faster on the
    usual case (ASCII with %XX escapes of UTF-8); anything unusual goes to `unquote`."""
    if "+" in text:
        text = text.replace("+", " ")  # a literal '+' is written %2B, so this is safe before unescaping
    if "%" not in text:
        return text
    spaced = text.replace("%20", " ")
    if "%" not in spaced:  # spaces only: the usual escape in media file names
        return spaced
    try:
        escaped = text.replace("\\", "\\\\").replace("%", "\\x").encode("ascii")
        return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8")
    except (UnicodeError, ValueError):
        return unquote(text)


def _epoch_cache() -> Callable[[str], float]:
    """`_epoch` for inventory times, remembering the last text it parsed (an inventory's rows
    often share times); Python 3.11 parses the trailing 'Z' itself."""
    last = ["", 0.0]
    fromisoformat = datetime.fromisoformat

    def parse(text: str) -> float:
        if text != last[0]:
            try:
                value = fromisoformat(text).timestamp()
            except ValueError:
                value = _epoch(text or None)
            last[0], last[1] = text, value
        return last[1]

    return parse


def read_csv_range(client: Any, bucket: str, key: str, start: int, end: int | None) -> Iterator[str]:
    """The lines of an uncompressed CSV that start in bytes [start, end): a line that crosses
    `start` belongs to the range before, one that crosses `end` to this one. Ranges cut
    anywhere thus give every line exactly once (Batch Operations keys are URL-encoded, so a
    line break always ends a row)."""
    first = max(0, start - 1)
    body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-")["Body"]
    pos = first
    try:
        for raw in body.iter_lines(keepends=True):
            line_start, pos = pos, pos + len(raw)
            if start > 0 and line_start < start:
                continue  # the tail of the line before the range (or the newline just before it)
            if end is not None and line_start >= end:
                return
            yield raw.decode("utf-8")
    finally:
        body.close()


def inventory_manifest(client: Any, manifest_uri: str) -> dict[str, Any]:
    """An S3 Inventory manifest.json, checked, with its data files' bucket filled in."""
    bucket, key = parse_s3_uri(manifest_uri)
    manifest = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    if "files" not in manifest or "fileSchema" not in manifest:
        raise InputError(f"{manifest_uri} is not an S3 Inventory manifest.json (no files/fileSchema)")
    manifest.setdefault("destinationBucket", bucket)
    return manifest


def open_shard(
    client: Any, manifest_uri: str, shard: dict[str, Any], *, times: bool = True
) -> Iterator[SourceObject | Rejected]:
    """Stream one shard of an inventory (see `sharding.split_inventory`): some data files of
    an S3 Inventory report, or a byte range of a Batch Operations CSV. `times`: see
    `iter_inventory_rows`."""
    if shard["kind"] == "inventory":
        manifest = dict(inventory_manifest(client, manifest_uri), files=[{"key": k} for k in shard["files"]])
        return iter_inventory_rows(manifest, lambda b, k: client.get_object(Bucket=b, Key=k)["Body"], times=times)
    bucket, key = parse_s3_uri(manifest_uri)
    if shard["kind"] == "csv-range":
        lines: Iterable[str] = read_csv_range(client, bucket, key, shard["start"], shard["end"])
    else:  # a gzip CSV cannot be cut: one shard reads it whole
        lines = _text_lines(client.get_object(Bucket=bucket, Key=key)["Body"], gzipped=key.endswith(".gz"))
    return head_objects(client, iter_csv_manifest_rows(lines))


def open_inventory(client: Any, manifest_uri: str) -> Iterator[SourceObject | Rejected]:
    """Stream any supported inventory named by `manifest_uri` (CSV manifest or manifest.json)."""
    bucket, key = parse_s3_uri(manifest_uri)
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    if key.endswith(".json"):
        manifest = json.loads(body.read())
        if "files" not in manifest or "fileSchema" not in manifest:
            raise InputError(f"{manifest_uri} is not an S3 Inventory manifest.json (no files/fileSchema)")
        manifest.setdefault("destinationBucket", bucket)
        return iter_inventory_rows(manifest, lambda b, k: client.get_object(Bucket=b, Key=k)["Body"])
    rows = iter_csv_manifest_rows(_text_lines(body, gzipped=key.endswith(".gz")))
    return head_objects(client, rows)


def archive_state(client: Any, obj: SourceObject) -> SourceObject | Rejected:
    """An object of an archive storage class, with its restore state asked of S3 (one HEAD) if
    the source did not say it; a Rejected row when it is not restored."""
    if obj.restored is None:
        kwargs = {"Bucket": obj.bucket, "Key": obj.key, **({"VersionId": obj.version_id} if obj.version_id else {})}
        obj = object_from_head(obj.bucket, obj.key, obj.version_id, client.head_object(**kwargs))
    if obj.restored:
        return obj
    return Rejected(
        obj.bucket,
        obj.key,
        obj.version_id,
        "InvalidObjectState",
        403,
        f"s3://{obj.bucket}/{obj.key} is in {obj.storage_class} and not restored; restore it (RestoreObject) and run again",
    )
