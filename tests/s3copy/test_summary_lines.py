"""The summary the report task logs at the end of an s3_bulk_copy run."""

from __future__ import annotations

from mediaflow.s3copy.engine import COPIED, FAILED, SKIPPED, CopyError, make_result
from mediaflow.s3copy.planning import CopyItem
from mediaflow.s3copy.report import ReportWriter, summary_lines

GiB = 1024**3


def _summary(**counts) -> dict:
    base = {
        "objects": 0, "copied": 0, "bytes": 0, "skipped": 0, "failed": 0, "planned": 0, "planned_bytes": 0,
        "duration_seconds": 0.0, "throughput_bytes_per_second": None, "dry_run": False, "payloads": 0,
        "report_uri": "s3://reports/run/report.csv",
    }  # fmt: skip
    return base | counts


def test_a_run_with_failures_names_them_and_the_report():
    lines = summary_lines(
        _summary(
            objects=1204,
            copied=1000,
            bytes=12 * GiB + GiB // 2,
            skipped=200,
            failed=4,
            payloads=3,
            duration_seconds=12.34,
            throughput_bytes_per_second=GiB,
            verified={"checksum:CRC64NVME": 990, "etag": 10},
            aborted_uploads=[{"bucket": "dst", "key": "a.mov", "upload_id": "u1", "parts": 3, "reason": "r"}],
        )  # fmt: skip
    )
    assert lines == [
        "s3_bulk_copy: 1,204 objects in 3 payloads, 12.3 s",
        "  copied   1,000 (12.5 GiB, 1.0 GiB/s)",
        "  verified 990 by checksum:CRC64NVME, 10 by etag",
        "  skipped  200",
        "  failed   4: their rows in the report say why",
        "  aborted  1 multipart upload left open: listed in summary.json",
        "  report   s3://reports/run/report.csv",
    ]


def test_a_dry_run_says_what_it_would_copy():
    lines = summary_lines(_summary(objects=3, planned=3, planned_bytes=11 * 1024**2, payloads=1, dry_run=True))
    assert lines[1] == "  planned  3 (11.0 MiB): dry run, nothing copied"
    assert lines[3] == "  failed   0"


def test_the_lines_come_from_the_writers_summary():
    """The keys summary_lines reads are the ones ReportWriter.summary writes."""
    writer = ReportWriter()
    item = CopyItem("src", "a.mov", "", 5, "etag", "dst", "a.mov")
    writer.add_all(
        [
            make_result(item, COPIED, "ok")._replace(verified="etag"),
            make_result(item, SKIPPED, "up to date"),
            make_result(item, FAILED, "denied", CopyError("AccessDenied", "denied")),
        ]
    )
    summary = writer.summary(2.0, report_uri="s3://r/report.csv", payloads=1)
    assert summary_lines(summary) == [
        "s3_bulk_copy: 3 objects in 1 payload, 2.0 s",
        "  copied   1 (5 bytes, 2 bytes/s)",
        "  verified 1 by etag",
        "  skipped  1",
        "  failed   1: their rows in the report say why",
        "  report   s3://r/report.csv",
    ]
