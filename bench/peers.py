"""The tools a user would pick instead of mediaflow, configured as a careful user would.

Every setting is stated in `SETTINGS` and lands in `latest.json` and docs/benchmarks.md.
Concurrency is 32 everywhere, the same as the copy engine's thread count, so the comparison
is of how the tools use their connections, not of who opens more of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.paths import tool
from bench.servers import S3Server

CONCURRENCY = 32
PART_MIB = 64

SETTINGS = {
    "s5cmd": {
        "command": "s5cmd --numworkers 32 cp --concurrency 8 --part-size 64 's3://src/prefix/*' s3://dst/prefix/",
        "numworkers": CONCURRENCY,
        "concurrency": 8,
        "part_size_mib": PART_MIB,
    },
    "rclone": {
        "command": "rclone copy src:bucket/prefix dst:bucket/prefix (server-side copy within one remote)",
        "transfers": CONCURRENCY,
        "checkers": CONCURRENCY,
        "s3_upload_concurrency": 8,
        "s3_chunk_size": f"{PART_MIB}M",
        "s3_copy_cutoff": f"{PART_MIB}M",
        "flags": ["--fast-list", "--s3-no-check-bucket"],
    },
    "aws-cli": {
        "command": "aws s3 cp --recursive s3://src/prefix/ s3://dst/prefix/",
        "config_file": {
            "max_concurrent_requests": CONCURRENCY,
            "max_queue_size": 10000,
            "multipart_threshold": f"{PART_MIB}MB",
            "multipart_chunksize": f"{PART_MIB}MB",
        },
    },
}


def missing_tools() -> list[str]:
    return [name for name in ("s5cmd", "aws", "rclone", "curl", "ffmpeg") if not tool(name)]


class Peers:
    """Command lines for each peer against one S3 server."""

    def __init__(self, server: S3Server, work: Path) -> None:
        self.server = server
        self.work = work
        self.aws_config = work / "aws-cli.config"
        cfg = SETTINGS["aws-cli"]["config_file"]
        self.aws_config.write_text(
            "[default]\nregion = us-east-1\ns3 =\n" + "".join(f"  {k} = {v}\n" for k, v in cfg.items())
        )

    # -- environments ----------------------------------------------------------------------------
    def aws_env(self) -> dict[str, str]:
        env = self.server.env()
        env["AWS_CONFIG_FILE"] = str(self.aws_config)
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        return env

    def rclone_env(self) -> dict[str, str]:
        env = self.server.env()  # AWS_CA_BUNDLE is already dropped: rclone would refuse a missing one
        env.update(
            RCLONE_CONFIG=os.devnull,
            RCLONE_CONFIG_BENCH_TYPE="s3",
            RCLONE_CONFIG_BENCH_PROVIDER="SeaweedFS",
            RCLONE_CONFIG_BENCH_ENDPOINT=self.server.endpoint,
            RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=self.server.access_key,
            RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=self.server.secret_key,
            RCLONE_CONFIG_BENCH_REGION="us-east-1",
        )
        return env

    # -- bucket to bucket ------------------------------------------------------------------------
    def s5cmd_copy(self, src: str, dst: str) -> list[str]:
        """`src`/`dst` as s3://bucket/prefix/ (trailing slash)."""
        s = SETTINGS["s5cmd"]
        return [
            tool("s5cmd") or "s5cmd",
            "--endpoint-url",
            self.server.endpoint,
            "--numworkers",
            str(s["numworkers"]),
            "cp",
            "--concurrency",
            str(s["concurrency"]),
            "--part-size",
            str(s["part_size_mib"]),
            src + "*",
            dst,
        ]

    def rclone_copy(self, src: str, dst: str) -> list[str]:
        s = SETTINGS["rclone"]
        return [
            "rclone",
            "copy",
            "bench:" + src.removeprefix("s3://").rstrip("/"),
            "bench:" + dst.removeprefix("s3://").rstrip("/"),
            "--transfers",
            str(s["transfers"]),
            "--checkers",
            str(s["checkers"]),
            "--s3-upload-concurrency",
            str(s["s3_upload_concurrency"]),
            "--s3-chunk-size",
            s["s3_chunk_size"],
            "--s3-copy-cutoff",
            s["s3_copy_cutoff"],
            *s["flags"],
        ]

    def aws_copy(self, src: str, dst: str) -> list[str]:
        return [tool("aws") or "aws", "--endpoint-url", self.server.endpoint, "s3", "cp", "--recursive"] + [
            "--only-show-errors",
            src,
            dst,
        ]

    def aws_s3(self, *args: str) -> list[str]:
        return [tool("aws") or "aws", "--endpoint-url", self.server.endpoint, "s3", *args, "--only-show-errors"]
