"""The summary a transfer task logs (pure)."""

from __future__ import annotations

from mediaflow.frameio.backup import BatchResult, batch_summary_lines, run_summary_lines


def _plan(files: int) -> dict:
    target = {"destination_bucket": "media-backup", "destination_prefix": "frameio"}  # normalized: no slash
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


def test_the_run_summary_adds_up_the_transfers_and_counts_the_failed_ones():
    plan = {"targets": 2, "files": 6, "bytes": 5 * 1024**3, "skipped": 1, "batches": 4,
            "destinations": ["s3://media-backup/frameio/", "s3://media-backup/legacy/"]}  # fmt: skip
    totals = [
        {"copied": 2, "skipped_existing": 0, "skipped_no_original": 0, "bytes": 2 * 1024**3},
        {"copied": 0, "skipped_existing": 2, "skipped_no_original": 1, "bytes": 0},
        {"copied": 1, "skipped_existing": 0, "skipped_no_original": 0, "bytes": 1024**3},
    ]
    assert run_summary_lines(plan, totals) == [
        "Frame.io backup: 6 files (5.0 GiB) from 2 targets in 4 transfer tasks",
        "  backed up  3 (3.0 GiB)",
        "  skipped    3 (2 already in S3, 1 without an original)",
        "  left out   1 while resolving (still uploading, or not a file): see the resolve log",
        "  failed     1 of 4 transfer tasks: their logs name each file",
        "  to         s3://media-backup/frameio/",
        "  to         s3://media-backup/legacy/",
    ]


def test_a_run_with_nothing_to_copy():
    plan = {"targets": 1, "files": 0, "bytes": 0, "skipped": 0, "batches": 0, "destinations": ["s3://b/"]}
    assert run_summary_lines(plan, []) == [
        "Frame.io backup: 0 files (0 bytes) from 1 target in 0 transfer tasks",
        "  backed up  0 (0 bytes)",
        "  skipped    0",
        "  failed     0",
        "  to         s3://b/",
    ]


def test_destination_uri_ends_at_a_folder():
    from mediaflow.frameio.backup import destination_uri

    assert destination_uri({"destination_bucket": "b", "destination_prefix": "a/b"}) == "s3://b/a/b/"
    assert destination_uri({"destination_bucket": "b", "destination_prefix": ""}) == "s3://b/"
