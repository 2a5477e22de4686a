"""Demo: copy a small mixed tree from mediaflow-source to mediaflow-destination and read back
the report the run wrote (counts, bytes, where the report is)."""

from __future__ import annotations

import json
import time

from include.local_stack.bootstrap import BUCKETS
from include.local_stack.samples import COPY_DESTINATION_PREFIX, COPY_SOURCE_PREFIX
from include.local_stack.stack import Stack

ORDER = 20
DAG_ID = "s3_bulk_copy"
SOURCE_PREFIX = COPY_SOURCE_PREFIX
DEST_PREFIX = COPY_DESTINATION_PREFIX
MiB = 1024 * 1024


def _tree() -> dict[str, bytes]:
    """Odd keys, a zero-byte object, and one object above the demo's 5 MiB multipart threshold."""
    return {
        f"{SOURCE_PREFIX}camera a/day 1/clip 001.mov": b"\x00\x00\x00\x14ftypqt  " * 4096,
        f"{SOURCE_PREFIX}camera a/day 1/clip 002.mov": b"\x00\x00\x00\x14ftypqt  " * 2048,
        f"{SOURCE_PREFIX}stills/plus+sign & 100%.jpg": b"\xff\xd8\xff\xe0" * 1024,
        f"{SOURCE_PREFIX}stills/ünïcødé 日本.jpg": b"\xff\xd8\xff\xe1" * 1024,
        f"{SOURCE_PREFIX}docs/readme.txt": b"shot list\n",
        f"{SOURCE_PREFIX}docs/empty.marker": b"",
        f"{SOURCE_PREFIX}masters/master.mxf": bytes(range(256)) * (12 * MiB // 256),
    }


def prepare(stack: Stack) -> tuple[str, dict]:
    s3 = stack.boto3_client("s3")
    for key, body in _tree().items():
        s3.put_object(Bucket=BUCKETS["source"], Key=key, Body=body, Metadata={"demo": "mediaflow"})
    return DAG_ID, {
        "source_bucket": BUCKETS["source"],
        "source_prefix": SOURCE_PREFIX,
        "destination_bucket": BUCKETS["destination"],
        "destination_prefix": DEST_PREFIX,
        "multipart_threshold": 5 * MiB,
        "max_payload_bytes": 8 * MiB,
        "report_bucket": BUCKETS["reports"],
        # one prefix per demo run, so summarize() finds this run's report without XCom
        "report_prefix": f"demo/s3_bulk_copy/{int(time.time())}",
    }


def summarize(stack: Stack, conf: dict, state: str) -> list[str]:
    s3 = stack.boto3_client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=conf["report_bucket"], Prefix=conf["report_prefix"])
    summaries = [o["Key"] for p in pages for o in p.get("Contents", ()) if o["Key"].endswith("/summary.json")]
    if not summaries:
        return [f"run {state}: no report was written; see the task logs of `split`, `plan` and `report`"]
    summary = json.loads(s3.get_object(Bucket=conf["report_bucket"], Key=summaries[0])["Body"].read())
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=conf["destination_bucket"], Prefix=DEST_PREFIX)
    copies = [o for p in pages for o in p.get("Contents", ())]
    return [
        f"run {state}: {summary['copied']} copied, {summary['skipped']} skipped (already there), "
        f"{summary['failed']} failed, {summary['bytes']} bytes in {summary['payloads']} payloads",
        f"s3://{conf['destination_bucket']}/{DEST_PREFIX} now holds {len(copies)} objects, "
        f"{sum(o['Size'] for o in copies)} bytes",
        f"report: {summary['report_uri']}",
    ]
