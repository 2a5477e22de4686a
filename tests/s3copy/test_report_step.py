"""The report step after a copy task died for good: it aborts the upload the task left open,
lists it in summary.json, reports the object failed and fails the run. The operator runs on its
own against moto server, on the work files a run would have left."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from airflow.sdk.exceptions import AirflowException

from mediaflow.s3copy.engine import CopyEngine, CopyOptions
from mediaflow.s3copy.journal import ABORTED, UploadJournal
from mediaflow.s3copy.operators import S3CopyReportOperator
from mediaflow.s3copy.planning import encode_item, work_prefix
from tests.s3copy.test_checksums import _body
from tests.s3copy.test_engine import _item

MiB = 1024 * 1024


def test_report_aborts_what_a_dead_copy_task_left_open_and_fails_the_run(local_stack, s3, make_bucket):
    src, dst, work = make_bucket("src"), make_bucket("dst"), make_bucket("work")
    s3.put_object(Bucket=src, Key="reel.mxf", Body=_body(11 * MiB))
    item = _item(s3, src, "reel.mxf", dst)
    run_id = "manual__2026-01-01T00:00:00+00:00"
    prefix = work_prefix("reports", run_id)
    # what plan wrote, and what a copy task killed after its first part (retries exhausted) left
    manifest = f"{prefix}plan/payload-00000.jsonl.gz"
    s3.put_object(Bucket=work, Key=manifest, Body=gzip.compress(encode_item(item)))
    s3.put_object(Bucket=work, Key=f"{prefix}plan/rejected.jsonl.gz", Body=gzip.compress(b""))
    plan = {
        "started_at": time.time() - 60,
        "dry_run": False,
        "payloads": [{"index": 0, "uri": f"s3://{work}/{manifest}", "objects": 1, "bytes": item.size}],
        "spread": [],
    }
    s3.put_object(Bucket=work, Key=f"{prefix}plan.json", Body=json.dumps(plan).encode())
    journal = UploadJournal(s3, work, prefix)
    upload_id = CopyEngine(s3, CopyOptions(multipart_threshold=5 * MiB)).start_upload(item)
    journal.started(item, upload_id, 5 * MiB)
    s3.upload_part_copy(
        Bucket=dst,
        Key="reel.mxf",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": src, "Key": "reel.mxf"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )

    report = S3CopyReportOperator(task_id="report", report_bucket=work, report_prefix="reports", destination_bucket=dst)
    with pytest.raises(AirflowException, match="1 of 1 objects failed"):
        report.execute({"run_id": run_id})

    assert s3.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    summary = json.loads(s3.get_object(Bucket=work, Key=f"{prefix}summary.json")["Body"].read())
    assert summary["aborted_uploads"] == [
        {
            "bucket": dst,
            "key": "reel.mxf",
            "upload_id": upload_id,
            "parts": 1,
            "reason": "its copy task did not finish it",
        }
    ]
    rows = s3.get_object(Bucket=work, Key=f"{prefix}report.csv")["Body"].read().decode().splitlines()
    assert len(rows) == 1 and ",failed,PayloadNotRun," in rows[0], rows
    assert [e.state for e in journal.entries()] == [ABORTED]
