"""Plan a bulk copy: filter and route a streamed inventory, then bin-pack it into payloads.

Memory does not grow with the number of objects. A planner sees one shard of the inventory (an
S3 Inventory data file, a byte range of a Batch Operations CSV, a few prefixes of a listing) and
holds at most:

- a window of `window` accepted rows (size and manifest line), and
- `open_bins` payloads being filled, whose lines go to scratch files as they are placed.

When the window is full it is sorted largest first and each object goes to the least-loaded
open payload that has room (worst-fit decreasing, a heap keyed by load); when no open payload
has room, the fullest one is closed and a new one opened. A payload closes when it reaches
`max_payload_bytes` or `max_payload_objects`; a closed payload is compressed as one gzip member
at the end of the shard's single manifest file, and one index line (offset, length, objects,
bytes) records it. Nothing about a closed payload stays in memory.

The trade-off: largest-first holds within a window, not across the whole inventory. A large
object that arrives after its window has been placed opens or joins a payload of a later
window, so payloads of a shard are less evenly filled than a global sort would make them (the
last payloads of a shard, and payloads closed to make room, may be part-full). The bounds always
hold: no payload exceeds `max_payload_bytes` (except an object larger than a payload but below
the multipart threshold, alone in its payload) or `max_payload_objects`. Balance between copy
tasks does not depend on it: `merge_payloads` cuts the payloads of all shards, in order, into at
most `max_payloads` tasks of equal cost, each within one payload of the mean. A larger window
buys tighter packing for memory (about 300 bytes a row); more open payloads buy fewer part-full
payloads for file handles. Sorting everything would cost memory linear in the objects.

Reading and routing the rows and packing them each cost about half of a plan task's time, so
where a core is idle the packing (`Packer`: sorting windows, placing objects, compressing and
indexing payloads) runs in a second process (`PackerProcess`) that the planner feeds one window
at a time through a pipe. It writes the same manifest as packing in-process. The pipe costs
CPU, so a task packs in its own process when the machine's cores are already taken by other plan
tasks (`spare_core`).

An object above the multipart threshold is copied by UploadPartCopy. If it is larger than a
payload it is cut into chunks of parts, which land in different payloads (different workers);
those uploads are created by the plan task before its manifest is finished, and completed by
one later step. Only these objects are kept in memory: each is at least a payload in size, so
there are few.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gzip
import heapq
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, NamedTuple

from isal import isal_zlib

from mediaflow.common.errors import InputError
from mediaflow.common.parts import DEFAULT_PART_SIZE, MIN_PART_SIZE, choose_part_size, part_count
from mediaflow.common.s3 import parse_s3_uri
from mediaflow.s3copy.inventory import ARCHIVE_CLASSES, Rejected, SourceObject
from mediaflow.s3copy.routing import ObjectFilter, Router

#: rows sorted together before packing, and payloads filled at once (see the module docstring)
DEFAULT_WINDOW = 32_768
DEFAULT_OPEN_BINS = 64
#: lines of an open payload kept in memory before they go to its scratch file
SPILL_BYTES = 256 * 1024
#: what a packer writes in its spool folder, whichever process it runs in
MANIFEST_FILE, BINS_FILE = "payloads.jsonl.gz", "payloads.bins"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def spare_core(folder: Path | None = None, slots: int | None = None) -> Iterator[bool]:
    """Whether a plan task may pack in a second process (`PackerProcess`) on this machine: yes
    while it holds one of the machine's packing slots, half its cores. A slot is an exclusive
    `flock` on a file in `folder` (default: `<tmp>/mediaflow-packing`), released when the block
    ends or the process dies, so a killed task never keeps one.

    A second process only pays while a core is idle: it adds the cost of sending the rows over a
    pipe. When several plan tasks share a worker (mapped shards), the first ones take the slots
    and the rest pack in their own process, so the cores do useful work rather than that."""
    slots = _cores() // 2 if slots is None else slots
    fds = _slot_files(folder or Path(tempfile.gettempdir()) / "mediaflow-packing", slots)
    if fds is None:  # a folder this user cannot write: without a count, a second core will do
        yield _cores() > 1
        return
    held = next((fd for fd in fds if _lock_now(fd)), None)
    for fd in fds:
        if fd != held:
            os.close(fd)
    try:
        yield held is not None
    finally:
        if held is not None:
            os.close(held)  # closing the only descriptor releases the lock


def _lock_now(fd: int) -> bool:
    """Take the exclusive lock on `fd` if no other process holds it; never wait."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _slot_files(folder: Path, slots: int) -> list[int] | None:
    """Open descriptors of the `slots` slot files, or None where they cannot be opened."""
    fds: list[int] = []
    try:
        folder.mkdir(mode=0o777, exist_ok=True)
        for i in range(slots):
            fds.append(os.open(folder / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o666))
    except OSError:
        for fd in fds:
            os.close(fd)
        return None
    return fds


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


class PayloadBin(NamedTuple):
    """One payload of a shard's manifest: a gzip member at `offset` of `length` bytes."""

    offset: int
    length: int
    objects: int
    bytes: int

    def line(self) -> bytes:
        return f"{self.offset}\t{self.length}\t{self.objects}\t{self.bytes}\n".encode()

    @classmethod
    def parse(cls, line: bytes) -> PayloadBin:
        offset, length, objects, size = line.split()
        return cls(int(offset), int(length), int(objects), int(size))


def bin_cost(objects: int, size: int, limits: PlanLimits) -> float:
    """How full a payload is, 0 to 1: the larger of its share of the byte and object bounds."""
    return max(size / limits.max_payload_bytes, objects / limits.max_payload_objects)


class _OpenBin:
    """A payload being filled: its lines stay in memory up to `SPILL_BYTES`, then go to a
    scratch file, so a payload of many objects costs no more memory than a small one. Lines are
    text until the payload is written: one encode a payload instead of one a line."""

    __slots__ = ("buffered", "bytes", "lines", "objects", "path", "spilled")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []
        self.buffered = 0
        self.spilled = False
        self.bytes = 0
        self.objects = 0

    def spill(self) -> None:
        with open(self.path, "ab" if self.spilled else "wb") as fh:
            fh.write("".join(self.lines).encode())
        self.spilled = True
        self.lines.clear()
        self.buffered = 0

    def chunks(self) -> Iterator[bytes]:
        """Every line written, in order, in chunks of about a MiB."""
        if self.spilled:
            with open(self.path, "rb") as fh:
                while chunk := fh.read(1024**2):
                    yield chunk
        yield "".join(self.lines).encode()


class Packer:
    """Packs windows of (size, manifest line) into payloads (see the module docstring): the
    open payloads in a heap keyed by load, each closed one a gzip member of `manifest` and a
    line of `bins_path`."""

    def __init__(self, limits: PlanLimits, spool_dir: Path, open_bins: int = DEFAULT_OPEN_BINS) -> None:
        self.limits = limits
        self.max_open = open_bins
        self.spool_dir = spool_dir
        self.manifest = spool_dir / MANIFEST_FILE
        self.bins_path = spool_dir / BINS_FILE
        self._out: IO[bytes] = open(self.manifest, "wb")  # noqa: SIM115 - closed in finish()
        self._bins: IO[bytes] = open(self.bins_path, "wb")  # noqa: SIM115 - closed in finish()
        self._open: list[tuple[int, int, _OpenBin]] = []  # heap of (load, tie-break, payload)
        self._free_slots = list(range(open_bins))
        self._slot_paths = [spool_dir / f"open-{slot:04d}.jsonl" for slot in range(open_bins)]
        self._slot_of: dict[int, int] = {}
        self._opened = 0
        self.payloads = 0
        self.cost = 0.0
        self.largest_payload_bytes = 0

    def place(self, buffer: list[tuple[int, str]]) -> None:
        """Place the objects, largest first, each on the least-loaded open payload that has
        room; when none has, the fullest open payload is closed for a new one. Sorts `buffer`."""
        buffer.sort(key=_first, reverse=True)
        max_bytes, max_objects = self.limits.max_payload_bytes, self.limits.max_payload_objects
        heap = self._open
        for size, line in buffer:
            if heap and (top := heap[0])[0] + size <= max_bytes:
                _, seq, b = top
            else:
                if len(heap) >= self.max_open:
                    self._close_fullest()
                b = self._new_bin()
                self._opened += 1
                seq = self._opened  # ties go to the older payload: the same plan on every run
                heapq.heappush(heap, (0, seq, b))
            b.lines.append(line)
            b.buffered += len(line)
            if b.buffered >= SPILL_BYTES:
                b.spill()
            b.bytes += size
            b.objects += 1
            if b.objects >= max_objects or b.bytes >= max_bytes:
                heapq.heappop(heap)
                self._close(b)
            else:
                heapq.heapreplace(heap, (b.bytes, seq, b))

    def close_open(self) -> None:
        """Close every open payload, least loaded first."""
        while self._open:
            _, _, b = heapq.heappop(self._open)
            self._close(b)

    def _new_bin(self) -> _OpenBin:
        slot = self._free_slots.pop()
        b = _OpenBin(self._slot_paths[slot])
        self._slot_of[id(b)] = slot
        return b

    def _close_fullest(self) -> None:
        """Close the fullest open payload. It is a leaf of the min-heap (the last half of the
        list), so only those are compared, and the heap is repaired by one sift-up."""
        heap = self._open
        n = len(heap)
        leaves = heap[n // 2 :]
        i = n // 2 + leaves.index(max(leaves))  # (load, unique tie-break): C comparisons
        b = heap[i][2]
        last = heap.pop()
        if i < n - 1:  # move the last entry into the hole and up to its place
            while i > 0 and heap[(i - 1) >> 1] > last:
                heap[i] = heap[(i - 1) >> 1]
                i = (i - 1) >> 1
            heap[i] = last
        self._close(b)

    def _close(self, b: _OpenBin) -> None:
        """Compress the payload's lines as one gzip member at the end of the manifest."""
        self._free_slots.append(self._slot_of.pop(id(b)))
        out = self._out
        offset = out.tell()
        if b.spilled:
            compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
            for chunk in b.chunks():
                out.write(compressor.compress(chunk))
            out.write(compressor.flush())
        else:  # most payloads: a few KiB of lines, compressed in one call
            out.write(isal_zlib.compress("".join(b.lines).encode(), 1, 31))
        self._add_bin(PayloadBin(offset, out.tell() - offset, b.objects, b.bytes))

    def _add_bin(self, payload: PayloadBin) -> None:
        self._bins.write(payload.line())
        self.payloads += 1
        self.cost += bin_cost(payload.objects, payload.bytes, self.limits)
        self.largest_payload_bytes = max(self.largest_payload_bytes, payload.bytes)

    def flush(self) -> None:
        if not self._bins.closed:
            self._out.flush()
            self._bins.flush()

    def finish(self) -> dict[str, Any]:
        """Close the files (again: harmless) and drop the scratch files; returns the counts."""
        if not self._bins.closed:
            self._out.close()
            self._bins.close()
            for path in self.spool_dir.glob("open-*.jsonl"):
                path.unlink()
        return {"payloads": self.payloads, "cost": self.cost, "largest_payload_bytes": self.largest_payload_bytes}


class PackerProcess:
    """A `Packer` in a second process (`python -m mediaflow.s3copy.pack_worker`), given the
    windows through a pipe, so that reading and routing the rows (in the planner's process) and
    packing them take a core each. The same calls in the same order give the same manifest, byte
    for byte. The pipe holds little: the planner waits while the packer is a window behind.

    If the packer fails, the next call raises with the end of its log; if the planner's process
    dies, the packer reads the end of the pipe and exits.
    """

    def __init__(self, limits: PlanLimits, spool_dir: Path, open_bins: int = DEFAULT_OPEN_BINS) -> None:
        self.manifest = spool_dir / MANIFEST_FILE
        self.bins_path = spool_dir / BINS_FILE
        self.payloads = 0
        self.cost = 0.0
        self.largest_payload_bytes = 0
        self._finished = False
        self._log = spool_dir / "packer.log"
        config = {"limits": dataclasses.asdict(limits), "spool_dir": str(spool_dir), "open_bins": open_bins}
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # plugins/ as here
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, this package's module
                [sys.executable, "-m", "mediaflow.s3copy.pack_worker", json.dumps(config)],
                bufsize=0,  # each window goes at once, and a dead packer is seen at the next one
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
            )

    def _send(self, *message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._proc.stdin.write(len(data).to_bytes(8, "little") + data)
        except BrokenPipeError:
            self._failed()

    def place(self, buffer: list[tuple[int, str]]) -> None:
        self._send("place", buffer)

    def close_open(self) -> None:
        self._send("close_open")

    def flush(self) -> None:
        """Nothing to flush from here: the payload index is whole once `finish` returns."""

    def finish(self) -> dict[str, Any]:
        if not self._finished:
            self._send("finish")
            self._proc.stdin.close()
            out = self._proc.stdout.read()
            if self._proc.wait() != 0:
                self._failed()
            stats = json.loads(out)
            self.payloads, self.cost = stats["payloads"], stats["cost"]
            self.largest_payload_bytes = stats["largest_payload_bytes"]
            self._finished = True
            self._log.unlink()
        return {"payloads": self.payloads, "cost": self.cost, "largest_payload_bytes": self.largest_payload_bytes}

    def _failed(self) -> None:
        self._proc.kill()
        code = self._proc.wait()
        tail = self._log.read_text(errors="replace")[-2000:].strip()
        raise RuntimeError(f"the packing process exited with {code}: {tail or 'no output'}")


def pack_from_pipe(config: dict[str, Any], pipe: IO[bytes], out: IO[str]) -> None:
    """The packing process: `PackerProcess`'s calls, read from `pipe`; the counts go to `out`."""
    packer = Packer(PlanLimits(**config["limits"]), Path(config["spool_dir"]), config["open_bins"])
    while head := pipe.read(8):
        message = pickle.loads(pipe.read(int.from_bytes(head, "little")))  # noqa: S301 - from our own parent
        if message[0] == "place":
            packer.place(message[1])
        elif message[0] == "close_open":
            packer.close_open()
        else:
            out.write(json.dumps(packer.finish()))
            return
    raise SystemExit("the planner's process ended before the plan was finished")


class Planner:
    """Feed it inventory rows with `add`, then `pack`, start the spread uploads, then
    `write_manifests` and `close`.

    Whole objects are packed as they stream in (see the module docstring); the shard's one
    manifest file (`manifest`) grows by one gzip member per closed payload, and `bins_path`
    gets one line per payload (offset, length, objects, bytes).
    """

    def __init__(
        self,
        router: Router,
        object_filter: ObjectFilter,
        limits: PlanLimits,
        spool_dir: Path,
        dest_lookup: Callable[[str], SourceObject | None] | None = None,
        *,
        window: int = DEFAULT_WINDOW,
        open_bins: int = DEFAULT_OPEN_BINS,
        pack_in_subprocess: bool = False,
    ) -> None:
        """`dest_lookup(dest_key)`, when given, says what the destination holds; up-to-date
        objects are then skipped here and the copy tasks need not check them again. It may be
        replaced between parts of a shard (each part has its own sorted destination listing).

        `pack_in_subprocess`: pack in a second process (`PackerProcess`), so that reading the rows
        and packing them use two cores; the manifest is the same byte for byte."""
        if window < 1 or open_bins < 1:
            raise InputError(f"window ({window}) and open_bins ({open_bins}) must be at least 1")
        self.router = router
        self.dest_lookup = dest_lookup
        self.filter = object_filter
        self.limits = limits
        self.window = window
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.spool_dir = spool_dir
        packer = PackerProcess if pack_in_subprocess else Packer
        self._packer: Packer | PackerProcess = packer(limits, spool_dir, open_bins)
        self.manifest = self._packer.manifest
        self.bins_path = self._packer.bins_path
        self._rejected: IO[bytes] = gzip.open(spool_dir / "rejected.jsonl.gz", "wb", compresslevel=1)  # noqa: SIM115
        self._buffer: list[tuple[int, str]] = []  # (size, manifest line) of the window
        self.seen = 0
        self.objects = 0
        self.filtered = 0
        self.rejected = 0
        self.rejected_failed = 0
        self.skipped = 0
        self.total_bytes = 0
        self.spread: list[SpreadObject] = []
        self._packed = False
        self.effective = limits
        f = object_filter
        self._filtering = bool(
            (f.file_types and "*" not in f.file_types)
            or f.min_size is not None
            or f.max_size is not None
            or f.modified_after is not None
        )
        self._plain_prefixes = not any(_NEEDS_JSON.search(r.prefix) for r in router.routes)
        #: objects above both the multipart threshold and a payload are spread over payloads
        self._spread_above = max(limits.multipart_threshold, limits.max_payload_bytes)

    # -- intake ---------------------------------------------------------------------------------
    def add(self, row: SourceObject | Rejected) -> None:
        """One inventory row: see `add_all`."""
        self.add_all((row,))

    def add_all(
        self,
        rows: Iterable[SourceObject | Rejected],
        archived: Callable[[SourceObject], SourceObject | Rejected] | None = None,
    ) -> Planner:
        """Filter, route, check and buffer each row; a full window is packed as it fills.

        `archived(obj)`, when given, is asked about each object of an archive storage class and
        returns it with its restore state known, or a Rejected row (S3 refuses to copy it).

        This loop runs once per object of the inventory, so it keeps its state in locals and
        gives the usual case (every key to one bucket and prefix, no filter) no calls of its own.
        """
        buffer, window = self._buffer, self.window
        append = buffer.append
        router, lookup, reject = self.router, self.dest_lookup, self._reject
        accepts = self.filter.accepts if self._filtering else None
        simple = router.single_target()
        dest_bucket, dest_prefix = simple or ("", "")
        threshold, spread_above = self.limits.multipart_threshold, self._spread_above
        plain_prefixes = self._plain_prefixes
        seen = objects = total_bytes = 0
        try:
            for row in rows:
                seen += 1
                if type(row) is Rejected:
                    reject(row, failed=True)
                    continue
                bucket, key, version, size, etag, modified, storage_class, _ = row
                if archived is not None and storage_class in ARCHIVE_CLASSES:
                    row = archived(row)
                    if type(row) is Rejected:
                        reject(row, failed=True)
                        continue
                if accepts is not None and not accepts(key, size, modified):
                    self.filtered += 1
                    continue
                if simple is not None:
                    dest_key = dest_prefix + key if dest_prefix else key
                else:
                    target = router.route(key)
                    if target is None:
                        msg = f"s3://{bucket}/{key} matches no route; add a route for its type or a '*' route"
                        reject(Rejected(bucket, key, version, "NoRoute", 0, msg), failed=False)
                        continue
                    dest_bucket, dest_key = target
                if lookup is not None:
                    dest = lookup(dest_key)
                    if dest is not None and is_up_to_date(size, etag, dest.size, dest.etag, threshold):
                        self.skipped += 1
                        msg = "destination already up to date"
                        reject(Rejected(bucket, key, version, "", 200, msg), failed=False)
                        continue
                objects += 1
                total_bytes += size
                if size > spread_above:
                    item = CopyItem(bucket, key, version, size, etag, dest_bucket, dest_key)
                    self.spread.append(self._spread(item))
                    continue
                # a destination key is a route's prefix and the end of the source key; a key that
                # is printable and has no backslash holds none of the characters TSV cannot carry
                if key.isprintable() and "\\" not in key and plain_prefixes:
                    line = f"{bucket}\t{key}\t{version or ''}\t{size}\t{etag}\t{dest_bucket}\t{dest_key}\n"
                    append((size, line))
                else:
                    item = CopyItem(bucket, key, version, size, etag, dest_bucket, dest_key)
                    append((size, encode_item(item).decode()))
                if len(buffer) >= window:
                    self._drain()
        finally:
            self.seen += seen
            self.objects += objects
            self.total_bytes += total_bytes
        return self

    def _reject(self, row: Rejected, *, failed: bool) -> None:
        self.rejected += 1
        self.rejected_failed += int(failed)
        record = [*row, "failed" if failed else "skipped"]
        self._rejected.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")

    def _spread(self, item: CopyItem) -> SpreadObject:
        """Cut an object larger than a payload into payload-sized chunks of parts."""
        limits = self.limits
        part_size = choose_part_size(item.size, initial_part_size(limits.multipart_threshold))
        parts = part_count(item.size, part_size)
        per_chunk = max(1, limits.max_payload_bytes // part_size)
        spread = SpreadObject(item, part_size, parts)
        spread.chunks = [(first, min(parts, first + per_chunk - 1)) for first in range(1, parts + 1, per_chunk)]
        return spread

    # -- packing and output (by the packer) -----------------------------------------------------
    def _drain(self) -> None:
        """Hand the window to the packer, which places it largest first."""
        self._packer.place(self._buffer)
        self._buffer.clear()

    def pack(self) -> None:
        """Place what is still buffered and close every open payload (the chunks of spread
        objects are added by `write_manifests`)."""
        if not self._packed:
            self._drain()
            self._packer.close_open()
            self._packed = True

    def write_manifests(self) -> Path:
        """Add the chunks of spread uploads (whose ids must be set by now) as payloads of their
        own, packed largest first, and finish the manifest. Returns its path."""
        self.pack()
        units = []  # (bytes, line) of each chunk; few: each is up to a payload in size
        for spread in self.spread:
            if spread.upload_id is None:
                raise RuntimeError(f"spread upload for s3://{spread.item.bucket}/{spread.item.key} not started")
            if spread.upload_id == "":  # destination already up to date: nothing to copy
                continue
            for first, last in spread.chunks:
                item = spread.item._replace(
                    upload_id=spread.upload_id, part_size=spread.part_size, first_part=first, last_part=last
                )
                size = min(spread.item.size, last * spread.part_size) - (first - 1) * spread.part_size
                units.append((size, encode_item(item).decode()))
        self._packer.place(units)
        self._packer.close_open()
        self._packer.finish()
        return self.manifest

    def close(self) -> Path:
        """Close the files; returns the rejected-rows file (gzip JSON lines) for the report."""
        self._rejected.close()
        self._packer.finish()
        return self.spool_dir / "rejected.jsonl.gz"

    @property
    def payloads(self) -> int:
        return self._packer.payloads

    @property
    def cost(self) -> float:
        return self._packer.cost

    @property
    def largest_payload_bytes(self) -> int:
        return self._packer.largest_payload_bytes

    def bins(self) -> Iterator[PayloadBin]:
        """The payloads written so far, in manifest order."""
        self._packer.flush()
        with open(self.bins_path, "rb") as fh:
            for line in fh:
                yield PayloadBin.parse(line)

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
            "payloads": self.payloads,
            "cost": self.cost,
            "largest_payload_bytes": self.largest_payload_bytes,
            "spread_objects": len(self.spread),
            "max_payload_bytes": self.limits.max_payload_bytes,
            "max_payload_objects": self.limits.max_payload_objects,
            "max_payloads": self.limits.max_payloads,
            "multipart_threshold": self.limits.multipart_threshold,
        }


#: the size of a (size, line) pair, for sorting a window: a C call, not a Python one per row
_first = itemgetter(0)


# -- merging the shards' payloads into copy tasks -------------------------------------------------
def merge_payloads(
    shards: Iterable[tuple[str, float, Iterable[PayloadBin]]], limits: PlanLimits, *, dest_checked: bool = False
) -> list[dict[str, Any]]:
    """Cut the shards' payloads, in order, into at most `limits.max_payloads` copy tasks of about
    equal cost (see `bin_cost`). A task is a list of byte ranges (`segments`) of the shards'
    manifests: consecutive payloads of one manifest are one range, so a task has at most a few
    ranges whatever the object count, and only the payload index lines pass through memory.

    `shards`: (manifest URI, total cost, payloads) for each shard; the cost is the shard's
    `summary()["cost"]`. Each task's cost is within one payload of the mean."""
    shards = list(shards)
    total = sum(cost for _, cost, _ in shards)
    tasks: list[dict[str, Any]] = []
    if total <= 0:
        return tasks
    count = limits.max_payloads
    target = total / count
    done = 0.0
    current = -1
    for uri, _, payloads in shards:
        for p in payloads:
            slot = min(count - 1, int(done / target))
            done += bin_cost(p.objects, p.bytes, limits)
            if slot != current or not tasks:
                current = slot
                tasks.append(
                    {
                        "index": len(tasks),
                        "uri": uri,
                        "segments": [],
                        "objects": 0,
                        "bytes": 0,
                        "dest_checked": dest_checked,
                    }
                )
            task = tasks[-1]
            segments = task["segments"]
            if segments and segments[-1][0] == uri and segments[-1][2] == p.offset:
                segments[-1][2] = p.offset + p.length
            else:
                segments.append([uri, p.offset, p.offset + p.length])
            task["objects"] += p.objects
            task["bytes"] += p.bytes
    return tasks


def merged_summary(shards: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's plan summary from its shards' `Planner.summary()`s and its copy tasks."""
    counted = ("seen", "objects", "bytes", "filtered_out", "rejected", "skipped_up_to_date", "rejected_failed")
    out: dict[str, Any] = {key: sum(int(s[key]) for s in shards) for key in counted}
    first = shards[0] if shards else {}
    out.update(
        destination_checked=bool(first.get("destination_checked")),
        payloads=len(tasks),
        manifests=sum(int(s["payloads"]) for s in shards),
        spread_objects=sum(int(s["spread_objects"]) for s in shards),
        largest_task_bytes=max((t["bytes"] for t in tasks), default=0),
        largest_task_objects=max((t["objects"] for t in tasks), default=0),
        **{
            k: first.get(k) for k in ("max_payload_bytes", "max_payload_objects", "max_payloads", "multipart_threshold")
        },
    )
    return out


def read_payload(s3: Any, payload: dict[str, Any]) -> Iterator[CopyItem]:
    """The items of a copy task: each of its manifest ranges (or its whole manifest), read with
    one GET each. A range holds whole gzip members, which decompress one after another."""
    segments = payload.get("segments") or [[payload["uri"], None, None]]
    for uri, start, end in segments:
        bucket, key = parse_s3_uri(uri)
        kwargs = {} if start is None else {"Range": f"bytes={start}-{end - 1}"}
        data = s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()
        yield from read_manifest(gunzip_members(data).splitlines())


#: input given to a member's decompressor at a time: what follows the member's end is copied
#: into `unused_data`, so small pieces keep that copy small however many members follow
_GUNZIP_PIECE = 8 * 1024


def gunzip_members(data: bytes) -> bytes:
    """The payloads of a manifest range: its gzip members decompressed one after another, in
    time linear in its size. (`gzip.decompress` copies everything after each member, which is
    quadratic in a range of thousands of small payloads.)"""
    view = memoryview(data)
    out: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        unzip = zlib.decompressobj(31)
        while not unzip.eof:
            if pos >= end:
                raise EOFError("the payload manifest ends inside a gzip member: it is truncated")
            piece = view[pos : pos + _GUNZIP_PIECE]
            out.append(unzip.decompress(piece))
            pos += len(piece)
        pos -= len(unzip.unused_data)
    return b"".join(out)


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
