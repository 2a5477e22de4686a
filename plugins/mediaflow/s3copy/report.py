"""Results and reports of the bulk copy.

Each copy task writes its results to one file per payload; the report step streams them all
into an S3 Batch Operations-style completion report (no header; columns Bucket, Key,
VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage; keys URL-encoded) and a JSON
summary. Because the report has the manifest's first three columns, a `failed` report can be
fed straight back as `manifest_uri` to retry just those objects.

The Batch Operations format has no column for how a copy was verified, and readers of it expect
exactly its seven; so a copied object's ResultMessage ends with `; verified by <method>`
(`checksum:CRC64NVME`, `etag` or `size`), and `summary.json` counts the methods (`verified`).
Uploads the run had to abort are listed in `summary.json` (`aborted_uploads`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote_plus

from mediaflow.common.errors import InputError
from mediaflow.common.summary import human_bytes, plural
from mediaflow.s3copy.engine import COPIED, FAILED, PARTS_COPIED, PARTS_FAILED, SKIPPED, CopyResult

REPORT_COLUMNS = ("Bucket", "Key", "VersionId", "TaskStatus", "ErrorCode", "HTTPStatusCode", "ResultMessage")
PLANNED = "planned"


def encode_results(results: Iterable[CopyResult]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1) as fh:
        for r in results:
            fh.write(json.dumps(r, ensure_ascii=False).encode() + b"\n")
    return buf.getvalue()


def decode_results(data: bytes) -> Iterator[CopyResult]:
    for line in gzip.decompress(data).splitlines():
        if line.strip():
            yield CopyResult(*json.loads(line))


def rejected_results(lines: Iterable[bytes]) -> Iterator[CopyResult]:
    """Rows the planner refused (missing, archived, unrouted) as results for the report."""
    for line in lines:
        if line.strip():
            bucket, key, version, code, status, message, outcome = json.loads(line)
            yield CopyResult(bucket, key, version, "", "", outcome, code, status, message, 0)


@dataclass
class ReportWriter:
    """Streams results into the CSV (all rows, or failed ones only) and counts the summary."""

    scope: str = "all"
    dry_run: bool = False
    out: IO[str] = field(default_factory=io.StringIO)
    counts: dict[str, int] = field(default_factory=lambda: {COPIED: 0, SKIPPED: 0, FAILED: 0, PLANNED: 0})
    bytes_copied: int = 0
    bytes_planned: int = 0
    rows: int = 0
    verified: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scope not in ("all", "failed"):
            raise InputError(f"report_scope must be 'all' or 'failed', got {self.scope!r}")
        self._csv = csv.writer(self.out, lineterminator="\n")

    def add(self, r: CopyResult) -> None:
        if r.status in (PARTS_COPIED, PARTS_FAILED):
            return  # a chunk of a spread upload: the completion step reports the object
        self.counts[r.status] = self.counts.get(r.status, 0) + 1
        if r.status == COPIED:
            self.bytes_copied += r.size
            method = r.verified or "unknown"
            self.verified[method] = self.verified.get(method, 0) + 1
        if r.status == PLANNED:
            self.bytes_planned += r.size
        if self.scope == "failed" and r.status != FAILED:
            return
        task_status = "failed" if r.status == FAILED else "succeeded"
        message = r.message
        if r.status == SKIPPED:
            message = f"skipped: {r.message}"
        elif r.status == PLANNED:
            task_status = "planned"
        elif r.status == COPIED:
            # the engine's "copied in N parts (...)" keeps its detail after the destination
            detail = r.message[len("copied") :] if r.message.startswith("copied in ") else ""
            message = f"copied to s3://{r.dest_bucket}/{r.dest_key}{detail}"
            if r.verified:
                message += f"; verified by {r.verified}"
        self._csv.writerow(
            [
                r.bucket,
                quote_plus(r.key, safe="/"),
                r.version_id or "",
                task_status,
                r.error_code,
                r.http_status or "",
                message,
            ]
        )
        self.rows += 1

    def add_all(self, results: Iterable[CopyResult]) -> None:
        for r in results:
            self.add(r)

    def summary(self, duration: float, **extra: Any) -> dict[str, Any]:
        return {
            "objects": sum(self.counts.values()),
            "copied": self.counts[COPIED],
            "bytes": self.bytes_copied,
            "skipped": self.counts[SKIPPED],
            "failed": self.counts[FAILED],
            "planned": self.counts[PLANNED],
            "planned_bytes": self.bytes_planned,
            "verified": dict(sorted(self.verified.items())),
            "duration_seconds": round(duration, 3),
            "throughput_bytes_per_second": round(self.bytes_copied / duration, 1) if duration > 0 else None,
            "dry_run": self.dry_run,
            "report_scope": self.scope,
            "report_columns": list(REPORT_COLUMNS),
            **extra,
        }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The run's outcome in a few lines for the log: what was copied (and how it was verified),
    skipped, failed (or, in a dry run, planned), the uploads it had to abort, and where the
    report is."""
    duration = float(summary.get("duration_seconds") or 0)
    lines = [
        f"s3_bulk_copy: {plural(summary['objects'], 'object')} in {plural(summary.get('payloads', 0), 'payload')}, "
        f"{duration:.1f} s"
    ]
    if summary.get("dry_run"):
        lines.append(
            f"  planned  {summary['planned']:,} ({human_bytes(summary.get('planned_bytes'))}): dry run, nothing copied"
        )
    else:
        rate = summary.get("throughput_bytes_per_second")
        speed = f", {human_bytes(rate)}/s" if rate else ""
        lines.append(f"  copied   {summary['copied']:,} ({human_bytes(summary['bytes'])}{speed})")
        verified = summary.get("verified") or {}
        if verified:
            lines.append("  verified " + ", ".join(f"{n:,} by {method}" for method, n in verified.items()))
    lines.append(f"  skipped  {summary['skipped']:,}")
    failed = summary["failed"]
    lines.append(f"  failed   {failed:,}" + (": their rows in the report say why" if failed else ""))
    aborted = summary.get("aborted_uploads") or []
    if aborted:
        lines.append(f"  aborted  {plural(len(aborted), 'multipart upload')} left open: listed in summary.json")
    lines.append(f"  report   {summary.get('report_uri', '')}")
    return lines
