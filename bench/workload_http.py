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
#: per-stream cap of the stand-in origin (bytes/s); the uncapped case is measured too
STREAM_CAP = 48 * MiB


def w4(ctx: Context) -> dict[str, Any]:
    """Judged with the origin capped per stream (the Frame.io case: a CDN serves each
    connection at a bounded rate, so parallel ranges pay off); also measured uncapped, where
    both tools are bound by the S3 upload and the comparison shows the engine's overhead."""
    size = 48 * MiB if ctx.quick else 1 * GiB
    root = ctx.work / "http"
    ctx.write_file(root / "original.mov", size, seed=4)
    try:
        capped = _measure(ctx, root, size, STREAM_CAP)
        uncapped = _measure(ctx, root, size, 0)
    finally:
        (root / "original.mov").unlink(missing_ok=True)
    ours, peer = capped["ours"], capped["curl-aws-cli"]
    ratio = ours.median / peer.median
    rss = max(ours.extra_median("maxrss_mib") or 0.0, uncapped["ours"].extra_median("maxrss_mib") or 0.0)
    return {
        "id": "W4",
        "title": "1 GiB from an HTTP server with Range support to S3 (the Frame.io path)",
        "status": "measured",
        "target": f">= 2x faster than curl piped into aws s3 cp - (ratio = ours / peer <= 0.5), peak RSS <= {RSS_LIMIT_MIB} MiB",
        "target_ratio": 0.5,
        "origin": f"each response capped at {STREAM_CAP // MiB} MiB/s (a CDN-like per-stream limit)",
        "ours": ours.to_json(),
        "peers": {"curl-aws-cli": peer.to_json()},
        "fastest_peer": "curl-aws-cli",
        "ratio": round(ratio, 3),
        "peak_rss_mib": rss,
        "met": bool(ratio <= 0.5 and rss <= RSS_LIMIT_MIB),
        "uncapped_origin": {
            "ours": uncapped["ours"].to_json(),
            "peers": {"curl-aws-cli": uncapped["curl-aws-cli"].to_json()},
            "ratio": round(uncapped["ours"].median / uncapped["curl-aws-cli"].median, 3),
        },
        "sizes": {"objects": 1, "total_bytes": size},
    }


def _measure(ctx: Context, root: Any, size: int, rate: int) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.http_server", "--dir", str(root), "--port", str(port), "--rate", str(rate)],
        env={**ctx.server.env(), **python_env()},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/original.mov"
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=server)  # a 404 answers; the file itself is large
        ctx.log(f"W4: origin {f'capped at {rate // MiB} MiB/s per stream' if rate else 'uncapped'}")
        return measure(_contenders(ctx, url, size), ctx.runs, ctx.log)
    finally:
        stop_pid(server.pid)


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
                "engine": "mediaflow.frameio.http_to_s3.HttpToS3 as the backup operator builds it (8 at once, "
                "default TransferConfig: 8 MiB starting parts, 96 MiB part budget)",
                "process": "python -m bench.ours http; peak RSS is the process's VmHWM",
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
