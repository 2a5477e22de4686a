"""Plan a bulk copy: filter and route a streamed inventory, then bin-pack it into payloads.

Memory stays flat in the number of objects: each accepted row is spooled to a local file as it
arrives, and only its size and file offset are kept, in `array('q')`s (16 bytes an object).
Packing is largest-first onto the least-loaded payload (worst-fit decreasing with a heap),
bounded by bytes and object count. When that would give more payloads than Airflow can map,
both bounds grow until it fits, so one DAG run never exceeds `max_map_length`.

An object above the multipart threshold is copied by UploadPartCopy. If it is larger than a
payload it is cut into chunks of parts, which land in different payloads (different workers);
those uploads are created up front and completed by one later step.
"""

from __future__ import annotations

import gzip
import heapq
import json
import math
import re
import shutil
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from mediaflow.common.errors import InputError
from mediaflow.common.parts import DEFAULT_PART_SIZE, MIN_PART_SIZE, choose_part_size, part_count
from mediaflow.s3copy.inventory import Rejected, SourceObject
from mediaflow.s3copy.routing import ObjectFilter, Router


class CopyItem(NamedTuple):
    """One line of a payload manifest: a whole object, or a run of parts of a spread upload."""

    bucket: str
    key: str
    version_id: str | None
    size: int
    etag: str
    dest_bucket: str
    dest_key: str
    upload_id: str | None = None  # set for parts of a spread upload
    part_size: int = 0
    first_part: int = 0
    last_part: int = 0

    @property
    def is_parts(self) -> bool:
        return self.upload_id is not None


#: characters that would break a tab-separated line; keys holding them are written as JSON
_NEEDS_JSON = re.compile(r"[\t\n\r\\]")


def encode_item(item: CopyItem) -> bytes:
    """One manifest line: tab-separated (fast to write and read at a million rows), or a JSON
    array when a key holds a tab, newline or backslash, or the item is a run of parts."""
    if item.upload_id is None and not _NEEDS_JSON.search(item.key) and not _NEEDS_JSON.search(item.dest_key):
        b, k, v, size, etag, db, dk = item[:7]
        return f"{b}\t{k}\t{v or ''}\t{size}\t{etag}\t{db}\t{dk}\n".encode()
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode_item(line: bytes) -> CopyItem:
    if line.startswith(b"["):  # bucket names never start with '['
        return CopyItem(*json.loads(line))
    b, k, v, size, etag, db, dk = line.rstrip(b"\n").decode().split("\t")
    return CopyItem(b, k, v or None, int(size), etag, db, dk)


@dataclass(frozen=True)
class PlanLimits:
    max_payload_bytes: int = 10 * 1024**3
    max_payload_objects: int = 5_000
    max_payloads: int = 1024
    multipart_threshold: int = 5 * 1024**3

    def __post_init__(self) -> None:
        for name in ("max_payload_bytes", "max_payload_objects", "max_payloads", "multipart_threshold"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")


def initial_part_size(multipart_threshold: int) -> int:
    """64 MiB parts normally; smaller when the threshold is smaller, but never below S3's 5 MiB."""
    return max(MIN_PART_SIZE, min(DEFAULT_PART_SIZE, multipart_threshold))


def is_up_to_date(size: int, etag: str, dest_size: int, dest_etag: str, multipart_threshold: int) -> bool:
    """Same size, and the same ETag or the ETag our own multipart copy would have given it
    (a multipart copy's ETag depends on the part size, so only its part count can be compared)."""
    if dest_size != size:
        return False
    if dest_etag == etag:
        return True
    if size > multipart_threshold and "-" in dest_etag:
        part_size = choose_part_size(size, initial_part_size(multipart_threshold))
        return dest_etag.rsplit("-", 1)[1] == str(part_count(size, part_size))
    return False


class SortedLookup:
    """Find keys in a sorted listing when they are asked for in ascending order: a merge join,
    one ListObjectsV2 request per 1,000 destination keys instead of a HEAD per object."""

    def __init__(self, listing: Iterable[SourceObject]) -> None:
        self._it = iter(listing)
        self._cur = next(self._it, None)

    def __call__(self, key: str) -> SourceObject | None:
        while self._cur is not None and self._cur.key < key:
            self._cur = next(self._it, None)
        return self._cur if self._cur is not None and self._cur.key == key else None


@dataclass
class SpreadObject:
    """An object whose parts go to several payloads; one step completes its upload."""

    item: CopyItem
    part_size: int
    parts: int
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (first, last) part numbers
    upload_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"item": list(self.item), "part_size": self.part_size, "parts": self.parts, "upload_id": self.upload_id}


@dataclass
class PayloadDescriptor:
    index: int
    objects: int = 0
    bytes: int = 0
    uri: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "uri": self.uri, "objects": self.objects, "bytes": self.bytes}


class Planner:
    """Feed it inventory rows with `add`, then `pack`, then `write_manifests`."""

    def __init__(
        self,
        router: Router,
        object_filter: ObjectFilter,
        limits: PlanLimits,
        spool_dir: Path,
        dest_lookup: Callable[[str], SourceObject | None] | None = None,
    ) -> None:
        """`dest_lookup(dest_key)`, when given, says what the destination holds; up-to-date
        objects are then skipped here and the copy tasks need not check them again."""
        self.router = router
        self.dest_lookup = dest_lookup
        self.skipped = 0
        self.filter = object_filter
        self.limits = limits
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool_dir = spool_dir
        self._spool: IO[bytes] = open(spool_dir / "objects.jsonl", "w+b")  # noqa: SIM115 - closed in close()
        self._rejected: IO[bytes] = gzip.open(spool_dir / "rejected.jsonl.gz", "wb", compresslevel=1)  # noqa: SIM115
        self.sizes = array("q")
        self.offsets = array("q")
        self._pos = 0
        self.seen = 0
        self.filtered = 0
        self.rejected = 0
        self.rejected_failed = 0
        self.total_bytes = 0
        self.spread: list[SpreadObject] = []
        self.payloads: list[PayloadDescriptor] = []
        self._assign = array("i")  # payload of each object (-1: spread over several)
        self._chunks: list[list[tuple[int, int]]] = []  # per payload: (spread index, chunk index)
        self.effective = limits

    # -- intake ---------------------------------------------------------------------------------
    def add(self, row: SourceObject | Rejected) -> None:
        self.seen += 1
        if isinstance(row, Rejected):
            self._reject(row, failed=True)
            return
        if not self.filter.accepts(row.key, row.size, row.last_modified):
            self.filtered += 1
            return
        target = self.router.route(row.key)
        if target is None:
            msg = f"s3://{row.bucket}/{row.key} matches no route; add a route for its type or a '*' route"
            self._reject(Rejected(row.bucket, row.key, row.version_id, "NoRoute", 0, msg), failed=False)
            return
        if self.dest_lookup is not None:
            dest = self.dest_lookup(target[1])
            if dest is not None and is_up_to_date(
                row.size, row.etag, dest.size, dest.etag, self.limits.multipart_threshold
            ):
                self.skipped += 1
                msg = "destination already up to date"
                self._reject(Rejected(row.bucket, row.key, row.version_id, "", 200, msg), failed=False)
                return
        item = CopyItem(row.bucket, row.key, row.version_id, row.size, row.etag, target[0], target[1])
        line = encode_item(item)
        self.offsets.append(self._pos)  # counted, not tell(): tell() costs more than the write
        self._pos += len(line)
        self._spool.write(line)
        self.sizes.append(row.size)
        self.total_bytes += row.size

    def add_all(self, rows: Iterable[SourceObject | Rejected]) -> Planner:
        for row in rows:
            self.add(row)
        return self

    def _reject(self, row: Rejected, *, failed: bool) -> None:
        self.rejected += 1
        self.rejected_failed += int(failed)
        record = [*row, "failed" if failed else "skipped"]
        self._rejected.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")

    @property
    def objects(self) -> int:
        return len(self.sizes)

    # -- packing --------------------------------------------------------------------------------
    def pack(self) -> list[PayloadDescriptor]:
        """Assign every object (or chunk of parts) to a payload within the mapping limit."""
        limits = self.limits
        n = len(self.sizes)
        grow = 1.0
        if n:
            need = max(
                math.ceil(self.total_bytes / limits.max_payload_bytes), math.ceil(n / limits.max_payload_objects)
            )
            grow = max(1.0, need / limits.max_payloads)
        while True:
            eff = PlanLimits(
                max_payload_bytes=math.ceil(limits.max_payload_bytes * grow),
                max_payload_objects=math.ceil(limits.max_payload_objects * grow),
                max_payloads=limits.max_payloads,
                multipart_threshold=limits.multipart_threshold,
            )
            if self._pack_with(eff) <= limits.max_payloads:
                self.effective = eff
                return self.payloads
            grow *= 1.25

    def _pack_with(self, eff: PlanLimits) -> int:
        sizes = self.sizes
        self.spread = []
        chunk_units: list[tuple[int, int, int]] = []  # (bytes, spread index, chunk index)
        whole: list[int] = []  # object indices; ints, not tuples, to stay small at 1M rows
        first_part = initial_part_size(eff.multipart_threshold)
        for i in range(len(sizes)):
            size = sizes[i]
            if size > eff.multipart_threshold and size > eff.max_payload_bytes:
                part_size = choose_part_size(size, first_part)
                parts = part_count(size, part_size)
                per_chunk = max(1, eff.max_payload_bytes // part_size)
                spread = SpreadObject(self._item(i), part_size, parts)
                for first in range(1, parts + 1, per_chunk):
                    last = min(parts, first + per_chunk - 1)
                    chunk_bytes = min(size, last * part_size) - (first - 1) * part_size
                    chunk_units.append((chunk_bytes, len(self.spread), len(spread.chunks)))
                    spread.chunks.append((first, last))
                self.spread.append(spread)
            else:
                whole.append(i)
        chunk_units.sort(reverse=True)
        whole.sort(key=sizes.__getitem__, reverse=True)

        assign = array("i", [-1]) * len(sizes)
        chunks: list[list[tuple[int, int]]] = []
        loads: list[list[int]] = []  # per payload: [bytes, objects]
        heap: list[tuple[int, int]] = []  # (bytes, payload) of payloads with room for more objects

        def place(size: int) -> int:
            target = -1
            while heap:
                load, p = heap[0]
                if loads[p][1] >= eff.max_payload_objects:
                    heapq.heappop(heap)
                    continue
                if load + size <= eff.max_payload_bytes:
                    target = p
                    heapq.heappop(heap)
                break
            if target < 0:
                target = len(loads)
                loads.append([0, 0])
                chunks.append([])
            loads[target][0] += size
            loads[target][1] += 1
            if loads[target][1] < eff.max_payload_objects:
                heapq.heappush(heap, (loads[target][0], target))
            return target

        for size, s, c in chunk_units:  # chunks are payload-sized: the largest units come first
            chunks[place(size)].append((s, c))
            if len(loads) > eff.max_payloads:
                return len(loads)
        for i in whole:
            assign[i] = place(sizes[i])
            if len(loads) > eff.max_payloads:
                return len(loads)
        self._assign, self._chunks = assign, chunks
        self.payloads = [PayloadDescriptor(p, objects=o, bytes=b) for p, (b, o) in enumerate(loads)]
        return len(loads)

    def _item(self, i: int) -> CopyItem:
        self._spool.seek(self.offsets[i])
        item = decode_item(self._spool.readline())
        self._spool.seek(0, 2)
        return item

    # -- output ---------------------------------------------------------------------------------
    def write_manifests(self, out_dir: Path, flush_bytes: int = 64 * 1024**2) -> list[Path]:
        """One gzip manifest per payload; spread uploads must have their ids by now.

        One sequential pass over the spool, buffering lines per payload and appending them to
        per-payload files every `flush_bytes`, then compressing each file once."""
        out_dir.mkdir(parents=True, exist_ok=True)
        plain = [out_dir / f"payload-{p:05d}.jsonl" for p in range(len(self.payloads))]
        for path in plain:
            path.write_bytes(b"")
        buffers: list[list[bytes]] = [[] for _ in plain]
        buffered = 0

        def flush() -> None:
            for p, buf in enumerate(buffers):
                if buf:
                    with open(plain[p], "ab") as fh:
                        fh.write(b"".join(buf))
                    buf.clear()

        for p, payload in enumerate(self.payloads):
            for s, c in self._chunks[p]:
                line = self._chunk_line(payload, s, c)
                if line:
                    buffers[p].append(line)
        assign = self._assign
        self._spool.flush()
        self._spool.seek(0)
        for i, line in enumerate(self._spool):
            p = assign[i]
            if p >= 0:
                buffers[p].append(line)
                buffered += len(line)
                if buffered >= flush_bytes:
                    flush()
                    buffered = 0
        flush()
        paths = []
        for payload, path in zip(self.payloads, plain, strict=True):
            gz = path.with_suffix(".jsonl.gz")
            with open(path, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst, 1024**2)
            path.unlink()
            payload.uri = gz.name
            paths.append(gz)
        return paths

    def _chunk_line(self, payload: PayloadDescriptor, s: int, c: int) -> bytes:
        spread = self.spread[s]
        first, last = spread.chunks[c]
        if spread.upload_id == "":  # destination already up to date: nothing to copy
            payload.objects -= 1
            payload.bytes -= min(spread.item.size, last * spread.part_size) - (first - 1) * spread.part_size
            return b""
        if spread.upload_id is None:
            raise RuntimeError(f"spread upload for s3://{spread.item.bucket}/{spread.item.key} not started")
        item = spread.item._replace(
            upload_id=spread.upload_id, part_size=spread.part_size, first_part=first, last_part=last
        )
        return encode_item(item)

    def close(self) -> Path:
        """Close the spool; returns the rejected-rows file (gzip JSON lines) for the report."""
        self._rejected.close()
        self._spool.close()
        return self.spool_dir / "rejected.jsonl.gz"

    def summary(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "objects": self.objects,
            "bytes": self.total_bytes,
            "filtered_out": self.filtered,
            "rejected": self.rejected,
            "skipped_up_to_date": self.skipped,
            "destination_checked": self.dest_lookup is not None,
            "rejected_failed": self.rejected_failed,
            "payloads": len(self.payloads),
            "spread_objects": len(self.spread),
            "max_payload_bytes": self.effective.max_payload_bytes,
            "max_payload_objects": self.effective.max_payload_objects,
            "max_payloads": self.effective.max_payloads,
            "multipart_threshold": self.effective.multipart_threshold,
        }


def read_manifest(lines: Iterable[bytes]) -> Iterable[CopyItem]:
    """Payload manifest lines back into CopyItems."""
    for line in lines:
        if line.strip():
            yield decode_item(line)


def work_prefix(report_prefix: str, run_id: str) -> str:
    """Where one run keeps its plan, results and report: `<report_prefix>/<run id>/`.

    The run id is made key-safe (manual run ids carry ':' and '+'), and stays deterministic so
    a retried task finds what an earlier attempt wrote."""
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in run_id)
    base = report_prefix.strip("/")
    return f"{base}/{safe}/" if base else f"{safe}/"


def report_bucket_for(
    report_bucket: str | None, destination_bucket: str | None, routes: list[dict[str, Any]] | None
) -> str:
    """The report bucket, else the destination bucket, else the first route's bucket."""
    bucket = (
        report_bucket or destination_bucket or next((r.get("bucket") for r in routes or () if r.get("bucket")), None)
    )
    if not bucket:
        raise InputError("no report location: set report_bucket, destination_bucket or routes")
    return bucket
