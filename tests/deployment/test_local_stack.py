"""`make stack-up` / `make stack-down`: a background stack and a shell-sourceable env file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.helpers import ROOT, require


def _stack(action: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.local_stack.stack", action],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )


def test_stack_up_writes_a_sourceable_env_file_and_down_stops_it(tmp_path):
    aws = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    require(aws, "the AWS CLI (pinned in requirements-dev.txt): run `make venv`")
    env = {
        **os.environ,
        "MEDIAFLOW_STACK_STATE_DIR": str(tmp_path / "state"),
        "MEDIAFLOW_STACK_ENV_FILE": str(tmp_path / "local_stack.env"),
    }
    up = _stack("up", env)
    try:
        assert "local AWS stack (moto server): http://127.0.0.1:" in up.stdout
        env_file = (tmp_path / "local_stack.env").read_text()
        assert "export AIRFLOW_CONN_AWS_DEFAULT=" in env_file
        assert "export AWS_ENDPOINT_URL=" in env_file
        # a user's shell: source the file and use the AWS CLI against the stack
        listed = subprocess.run(
            ["bash", "-c", f"set -e; source {tmp_path / 'local_stack.env'}; {aws} s3 ls"],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW_CONN_"))},
        )
        assert "mediaflow-media" in listed.stdout
        assert "mediaflow-backup" in listed.stdout
        pids = json.loads(_stack("status", env).stdout)["pids"]
        assert set(pids) >= {"moto"}
    finally:
        _stack("down", env)
    for pid in pids.values():
        assert not os.path.exists(f"/proc/{pid}"), f"process {pid} still running after stack down"
    assert not (tmp_path / "local_stack.env").exists()
    assert json.loads(_stack("status", env).stdout) == {"running": False, "pids": {}}
