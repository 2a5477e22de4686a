"""Demo: files uploaded to the Frame.io stand-in (not Frame.io) arrive in S3 by themselves.

The stand-in is subscribed to `file.upload.completed` and `file.ready` with the Airflow API
server's `POST /frameio/webhook` (signed with the webhook secret, as Frame.io signs), three files
finish uploading, and the asset-triggered `frameio_backup` run(s) copy them; each object's bytes
are checked against the xxh64 Frame.io reports for the file.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import xxhash

from include.local_stack.stack import Stack

ORDER = 31
DAG_ID = "frameio_backup"
HEADLINE = "uploading 3 files to the Frame.io stand-in: its webhook events start frameio_backup"
BUCKET = "mediaflow-backup"
PREFIX = "frameio-uploads"
EVENTS = ["file.upload.completed", "file.ready"]


def subscribe(stack: Stack, airflow_url: str) -> None:
    """Point the stand-in's webhook at the API server, with the secret the connection holds."""
    body = {"name": "mediaflow", "url": f"{airflow_url}/frameio/webhook", "events": EVENTS}
    body["secret"] = stack.frameio_webhook_secret
    requests.post(f"{stack.frameio_url}/_control/webhooks", json=body, timeout=10).raise_for_status()


def upload(stack: Stack, names: list[str], size: int = 256 * 1024) -> list[dict[str, Any]]:
    """Upload files into the demo project's root; the stand-in announces each when it completes."""
    project = requests.get(f"{stack.frameio_url}/_control/demo", timeout=10).json()
    tree = [{"type": "file", "name": name, "size": size + i, "seed": f"upload-{name}"} for i, name in enumerate(names)]
    resp = requests.post(
        f"{stack.frameio_url}/_control/upload", json={"parent_id": project["root"], "tree": tree}, timeout=120
    )
    resp.raise_for_status()
    return [{**a, "project": project["name"]} for a in resp.json()["assets"]]


def frameio_xxh64(stack: Stack, asset_id: str) -> str:
    headers = {"Authorization": f"Bearer {stack.frameio_token}"}
    asset = requests.get(f"{stack.frameio_url}/v2/assets/{asset_id}", headers=headers, timeout=10).json()
    return asset["checksums"]["xx_hash"]


def backed_up(stack: Stack, files: list[dict[str, Any]], timeout: float = 300) -> dict[str, dict]:
    """Wait until every uploaded file is in S3; its object per asset id."""
    s3 = stack.boto3_client("s3")
    deadline, found = time.monotonic() + timeout, {}
    while time.monotonic() < deadline and len(found) < len(files):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
        for obj in (o for page in pages for o in page.get("Contents", [])):
            meta = s3.head_object(Bucket=BUCKET, Key=obj["Key"])["Metadata"]
            found[meta.get("frameio-asset-id")] = obj
        found = {k: v for k, v in found.items() if k in {f["id"] for f in files}}
        time.sleep(2)
    return found


def run(stack: Stack, af: Any) -> tuple[str, list[str]]:
    af.unpause(DAG_ID)
    subscribe(stack, af.base_url)
    files = upload(stack, ["upload_A001.mov", "upload_A002.mov", "upload_notes.pdf"])
    objects = backed_up(stack, files)
    s3 = stack.boto3_client("s3")
    lines, ok = [f"3 uploads to the Frame.io stand-in -> s3://{BUCKET}/{PREFIX}/"], True
    for f in files:
        obj = objects.get(f["id"])
        if obj is None:
            lines.append(f"  {f['name']}: not in S3 (see the frameio_backup runs started by asset events)")
            ok = False
            continue
        expected = frameio_xxh64(stack, f["id"])
        actual = xxhash.xxh64(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()).hexdigest()
        verdict = "checksum verified" if actual == expected else f"CHECKSUM MISMATCH ({actual})"
        ok &= actual == expected
        lines.append(f"  {obj['Key']}  {obj['Size']} B  xxh64 {expected}: {verdict}")
    runs = [r for r in af.dag_runs(DAG_ID) if r["run_type"] == "asset_triggered"]
    lines.append(f"asset-triggered frameio_backup runs so far: {len(runs)} (uploads arriving together share a run)")
    return ("success" if ok else "failed"), lines
