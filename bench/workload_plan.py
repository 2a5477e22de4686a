"""W6: plan a 1,000,000-row S3 Inventory report (CSV.gz, in S3) into payload manifests:
time, peak RSS and payload count of the bulk copy's planner. No peer does this step."""

from __future__ import annotations

import gzip
import json
import random
from typing import Any

from bench.context import DST, SRC, Context
from bench.core import CheckFailed, Contender, last_json_line, measure, run_tool

TIME_LIMIT_S, RSS_LIMIT_MIB, PAYLOAD_LIMIT = 30.0, 300.0, 1024
SCHEMA = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"
FILES = 4


def write_inventory(ctx: Context, rows: int) -> str:
    """An S3 Inventory report as S3 writes it: gzip CSV data files and a manifest.json."""
    rng = random.Random(6)
    prefix = "inventory/bench-src/daily/"
    per_file = -(-rows // FILES)
    files = []
    for f in range(FILES):
        path = ctx.work / "inventory" / f"data-{f}.csv.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", compresslevel=1, newline="") as out:
            for i in range(f * per_file, min(rows, (f + 1) * per_file)):
                size = int(2 ** rng.uniform(10, 33))  # 1 KiB .. 8 GiB, log-uniform
                etag = f"{rng.getrandbits(128):032x}"
                out.write(
                    f'"{SRC}","media/project-{i % 997:03d}/clip%20{i:07d}.mov","{size}",'
                    f'"2025-01-{1 + i % 28:02d}T10:00:00.000Z","{etag}","STANDARD"\n'
                )
        key = f"{prefix}data/data-{f}.csv.gz"
        ctx.s3.upload_file(str(path), SRC, key)
        files.append({"key": key, "size": path.stat().st_size})
        path.unlink()
    manifest = {
        "sourceBucket": SRC,
        "destinationBucket": f"arn:aws:s3:::{SRC}",
        "fileFormat": "CSV",
        "fileSchema": SCHEMA,
        "files": files,
    }
    ctx.s3.put_object(Bucket=SRC, Key=prefix + "manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{SRC}/{prefix}manifest.json"


def w6(ctx: Context) -> dict[str, Any]:
    rows = 20_000 if ctx.quick else 1_000_000
    ctx.log(f"W6: writing a {rows:,}-row S3 Inventory report")
    manifest_uri = write_inventory(ctx, rows)
    last: dict[str, Any] = {}

    def run(tag: str) -> dict[str, Any]:
        work = ctx.work / "plan"
        work.mkdir(parents=True, exist_ok=True)
        args = ctx.ours("plan", "--manifest-uri", manifest_uri, "--dst-bucket", DST, "--work", str(work))
        last.clear()
        last.update(last_json_line(run_tool(args, ctx.ours_env())))
        return dict(last)

    def check(tag: str) -> int:
        if last.get("objects") != rows or not 0 < last.get("payloads", 0) <= PAYLOAD_LIMIT:
            raise CheckFailed(f"planner: {last}, expected {rows} objects in 1..{PAYLOAD_LIMIT} payloads")
        return int(last["objects"])

    ours = Contender(
        "ours",
        run,
        check,
        lambda tag: None,
        {
            "engine": "open_inventory -> Planner.add_all/pack/write_manifests (python -m bench.ours plan)",
            "inventory": f"{FILES} gzip CSV files in SeaweedFS, schema '{SCHEMA}'",
        },
        is_ours=True,
    )
    stats = measure([ours], ctx.runs, ctx.log)["ours"]
    seconds = stats.median
    rss = stats.extra_median("maxrss_mib") or 0.0
    payloads = int(stats.extra_median("payloads") or 0)
    return {
        "id": "W6",
        "title": f"plan a {rows:,}-row S3 Inventory CSV into payloads",
        "status": "measured",
        "target": f"<= {TIME_LIMIT_S:.0f} s and <= {RSS_LIMIT_MIB:.0f} MiB peak RSS, <= {PAYLOAD_LIMIT} payloads "
        "(ratio = time / 30 s)",
        "target_ratio": 1.0,
        "ours": stats.to_json(),
        "peers": {},
        "ratio": round(seconds / TIME_LIMIT_S, 3),
        "peak_rss_mib": rss,
        "payloads": payloads,
        "met": bool(seconds <= TIME_LIMIT_S and rss <= RSS_LIMIT_MIB and payloads <= PAYLOAD_LIMIT),
        "sizes": {"rows": rows},
    }
