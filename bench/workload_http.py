"""W4: a 1 GiB file from an HTTP server with Range support into S3 (the Frame.io backup path),
ours (parallel ranged GETs into a multipart upload) against `curl URL | aws s3 cp - s3://...`."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bench.context import DST, Context
from bench.core import Contender, GiB, MiB, check_copy, last_json_line, measure, python_env, run_tool
from bench.peers import SETTINGS
from bench.servers import free_port, stop_pid, wait_http

RSS_LIMIT_MIB = 256


def w4(ctx: Context) -> dict[str, Any]:
    size = 48 * MiB if ctx.quick else 1 * GiB
    root = ctx.work / "http"
    ctx.write_file(root / "original.mov", size, seed=4)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.http_server", "--dir", str(root), "--port", str(port)],
        env={**ctx.server.env(), **python_env()},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/original.mov"
    try:
        wait_http(url, proc=server)
        stats = measure(_contenders(ctx, url, size), ctx.runs, ctx.log)
    finally:
        stop_pid(server.pid)
        (root / "original.mov").unlink(missing_ok=True)
    ours, peer = stats["ours"], stats["curl-aws-cli"]
    ratio = ours.median / peer.median
    rss = ours.extra_median("maxrss_mib") or 0.0
    return {
        "id": "W4",
        "title": "1 GiB from an HTTP server with Range support to S3 (the Frame.io path)",
        "status": "measured",
        "target": f">= 2x faster than curl | aws s3 cp - (ratio = ours / peer <= 0.5), peak RSS <= {RSS_LIMIT_MIB} MiB",
        "target_ratio": 0.5,
        "ours": ours.to_json(),
        "peers": {"curl-aws-cli": peer.to_json()},
        "fastest_peer": "curl-aws-cli",
        "ratio": round(ratio, 3),
        "peak_rss_mib": rss,
        "met": bool(ratio <= 0.5 and rss <= RSS_LIMIT_MIB),
        "sizes": {"objects": 1, "total_bytes": size},
    }


def _contenders(ctx: Context, url: str, size: int) -> list[Contender]:
    def key(tag: str) -> str:
        return f"W4/{tag}/original.mov"

    def check(tag: str) -> int:
        return check_copy(ctx.s3, DST, f"W4/{tag}/", {"original.mov": size})

    def clean(tag: str) -> None:
        ctx.clean_dst(f"W4/{tag}/", reclaim=not ctx.quick)

    def ours(tag: str) -> dict[str, Any]:
        args = ctx.ours("http", "--url", url, "--bucket", DST, "--key", key(tag), "--size", str(size))
        return last_json_line(run_tool(args, ctx.ours_env()))

    def peer(tag: str) -> None:
        aws = " ".join(ctx.peers.aws_s3("cp", "-", f"s3://{DST}/{key(tag)}"))
        run_tool(f"set -o pipefail; curl -sSf {url} | {aws}", ctx.peers.aws_env())

    return [
        Contender(
            "ours",
            ours,
            check,
            clean,
            {
                "engine": "mediaflow.transfer.http_to_s3.HttpToS3 as the backup operator builds it (8 at once, "
                "default TransferConfig: 8 MiB starting parts, 96 MiB part budget)",
                "process": "python -m bench.ours http; peak RSS from ru_maxrss",
            },
            is_ours=True,
        ),
        Contender(
            "curl-aws-cli",
            peer,
            check,
            clean,
            {"command": "curl -sSf URL | aws s3 cp - s3://bucket/key", **SETTINGS["aws-cli"]["config_file"]},
        ),
    ]
