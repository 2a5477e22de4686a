"""What every workload gets: the S3 server, the peers, sizes for this mode, and helpers to
seed source data."""

from __future__ import annotations

import os
import random
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core import MiB, delete_prefix, python_env, run_tool
from bench.peers import Peers, tool
from bench.servers import S3Server

SRC, DST = "bench-src", "bench-dst"


@dataclass
class Context:
    server: S3Server
    peers: Peers
    work: Path
    quick: bool
    runs: int
    log: Any = print
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.s3 = self.server.client(max_pool_connections=32)
        for bucket in (SRC, DST):
            try:
                self.s3.create_bucket(Bucket=bucket)
            except self.s3.exceptions.BucketAlreadyOwnedByYou:
                pass
        self._pool = random.Random(8).randbytes(16 * MiB)

    # -- processes ------------------------------------------------------------------------------
    def ours_env(self) -> dict[str, str]:
        env = self.server.env()
        env.update(python_env(), BENCH_S3_ENDPOINT=self.server.endpoint)
        return env

    def ours(self, *args: str, env: dict[str, str] | None = None) -> list[str]:
        return [sys.executable, "-m", "bench.ours", *args]

    # -- source data ----------------------------------------------------------------------------
    def write_file(self, path: Path, size: int, seed: int) -> None:
        """`size` bytes that differ per file (so no layer can deduplicate), quickly."""
        path.parent.mkdir(parents=True, exist_ok=True)
        pool, n = self._pool, len(self._pool)
        with open(path, "wb") as fh:
            written, offset = 0, (seed * 7919) % n
            fh.write(seed.to_bytes(8, "big")[: min(8, size)])
            written = min(8, size)
            while written < size:
                chunk = pool[offset : offset + min(size - written, n - offset)]
                fh.write(chunk)
                written += len(chunk)
                offset = (offset + len(chunk)) % n

    def seed(self, prefix: str, sizes: list[int], name: str = "obj-{:05d}.bin") -> dict[str, int]:
        """Upload objects of `sizes` under s3://bench-src/<prefix>/ with s5cmd (unless already
        there with the same sizes); returns relative key -> size."""
        expected = {name.format(i): size for i, size in enumerate(sizes)}
        from bench.core import list_sizes

        if list_sizes(self.s3, SRC, prefix) == expected:
            return expected
        delete_prefix(self.s3, SRC, prefix)
        local = self.work / "seed" / prefix.strip("/")
        for i, size in enumerate(sizes):
            self.write_file(local / name.format(i), size, seed=zlib.crc32(prefix.encode()) % 1000 * 100000 + i)
        cmd = [tool("s5cmd") or "s5cmd", "--endpoint-url", self.server.endpoint, "--numworkers", "32"]
        run_tool([*cmd, "cp", f"{local}/*", f"s3://{SRC}/{prefix}"], self.server.env())
        for path in local.iterdir():
            path.unlink()
        return expected

    def clean_dst(self, prefix: str, reclaim: bool = False) -> None:
        if delete_prefix(self.s3, DST, prefix) and reclaim:
            self.server.reclaim()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
