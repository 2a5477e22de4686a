"""The summary a transfer task logs (pure)."""

from __future__ import annotations

from mediaflow.frameio.backup import BatchResult, batch_summary_lines


def _plan(files: int) -> dict:
    target = {"destination_bucket": "media-backup", "destination_prefix": "frameio/"}
    return {"target": target, "files": [{"name": f"f{i}.mov"} for i in range(files)]}


def test_a_batch_with_every_outcome():
    result = BatchResult()
    result.totals.update(copied=2, bytes=3 * 1024**3, skipped_existing=1, skipped_no_original=1, failed=1)
    result.failures.append("f4.mov (asset a4) -> s3://media-backup/frameio/f4.mov: size differs")
    assert batch_summary_lines(_plan(5), result) == [
        "Frame.io backup: 5 files to s3://media-backup/frameio/",
        "  backed up  2 (3.0 GiB)",
        "  skipped    2 (1 already in S3, 1 without an original to download)",
        "  failed     1",
        "    - f4.mov (asset a4) -> s3://media-backup/frameio/f4.mov: size differs",
    ]


def test_one_file_copied():
    result = BatchResult()
    result.totals.update(copied=1, bytes=700)
    assert batch_summary_lines(_plan(1), result) == [
        "Frame.io backup: 1 file to s3://media-backup/frameio/",
        "  backed up  1 (700 bytes)",
        "  skipped    0",
        "  failed     0",
    ]
