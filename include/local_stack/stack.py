"""The embedded local AWS stack: moto server (S3, DynamoDB, SQS) plus the local MediaConvert
service and the Frame.io stand-in, each a real HTTP server on 127.0.0.1.

Used three ways: `make stack-up` / `make stack-down` (background, writes `.local_stack.env`),
`make demo` / `make up` (through `airflow_local`), and the pytest session fixture (in-process
handle, random ports). Airflow reaches it only through connections, so pointing at real AWS
means changing `aws_default` and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from include.local_stack import processes

ROOT = Path(__file__).resolve().parents[2]
# overridable so tests can run `stack up/down` without touching a developer's running stack
STATE_DIR = Path(os.environ.get("MEDIAFLOW_STACK_STATE_DIR") or ROOT / ".local_stack")
ENV_FILE = Path(os.environ.get("MEDIAFLOW_STACK_ENV_FILE") or ROOT / ".local_stack.env")
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers any HTTP status; fail early if the process died."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException as exc:
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s: {last}")


@dataclass
class Stack:
    """Endpoints and credentials of a running local stack."""

    aws_endpoint: str
    mediaconvert_endpoint: str | None = None
    frameio_url: str | None = None
    frameio_token: str = ""
    frameio_client_id: str = ""
    frameio_client_secret: str = ""
    custom_action_secret: str = ""
    #: the secret the stand-in signs its webhook events with (V4 returns it when a webhook is created)
    frameio_webhook_secret: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    # -- connections -------------------------------------------------------------------------
    def aws_conn(self) -> dict:
        extra: dict = {"endpoint_url": self.aws_endpoint, "region_name": REGION}
        if self.mediaconvert_endpoint:
            extra["service_config"] = {"mediaconvert": {"endpoint_url": self.mediaconvert_endpoint}}
        return {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}

    def frameio_conn(self, api_version: str = "v4") -> dict:
        extra = {
            "api_version": api_version,
            "custom_action_secret": self.custom_action_secret,
            "webhook_secret": self.frameio_webhook_secret,
            "base_url": self.frameio_url or "",
            "ims_url": f"{self.frameio_url}/ims/token" if self.frameio_url else "",
            "token": self.frameio_token,
            "client_id": self.frameio_client_id,
            # the stand-in's demo account, and where Custom Action backups land
            "account_id": "standin-account",
            "destination_bucket": "mediaflow-backup",
            # where files uploaded to the stand-in land (POST /frameio/webhook)
            "upload_destination_prefix": "frameio-uploads",
        }
        return {
            "conn_type": "http",
            "host": self.frameio_url or "",
            "login": self.frameio_client_id,
            "password": self.frameio_client_secret,
            "extra": extra,
        }

    def env(self) -> dict[str, str]:
        """Environment for Airflow processes, the AWS CLI and boto3 scripts."""
        env = {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(self.aws_conn()),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "MEDIAFLOW_AWS_ENDPOINT": self.aws_endpoint,
            # queues the event-driven DAGs watch (AssetWatcher); created by bootstrap.py
            "MEDIAFLOW_SEGMENT_QUEUE_URL": f"{self.aws_endpoint}/{ACCOUNT_ID}/mediaflow-segment-uploads",
            "MEDIAFLOW_TRANSCODE_QUEUE_URL": f"{self.aws_endpoint}/{ACCOUNT_ID}/mediaflow-transcode-uploads",
        }
        if self.mediaconvert_endpoint:
            env["AWS_ENDPOINT_URL_MEDIACONVERT"] = self.mediaconvert_endpoint
            env["MEDIAFLOW_MEDIACONVERT_ENDPOINT"] = self.mediaconvert_endpoint
        if self.frameio_url:
            env["AIRFLOW_CONN_FRAMEIO_DEFAULT"] = json.dumps(self.frameio_conn())
            env["MEDIAFLOW_FRAMEIO_URL"] = self.frameio_url
        from include.local_stack import samples  # the trigger forms' defaults: the sample data

        env[samples.CONF_DEFAULTS_ENV] = json.dumps(samples.conf_defaults())
        return env

    def boto3_client(self, service: str):
        import boto3

        endpoint = self.mediaconvert_endpoint if service == "mediaconvert" else self.aws_endpoint
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_pid(proc.pid)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM a process we started, its descendants and the rest of its session; SIGKILL by
    PID whatever is left after `timeout` (see `processes`)."""
    processes.stop_pid(pid, timeout)


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log, "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        args,
        stdout=fh,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        cwd=ROOT,
    )


def start(
    log_dir: Path,
    *,
    moto_port: int | None = None,
) -> Stack:
    """Start moto server, the local MediaConvert service and the Frame.io stand-in."""
    py = sys.executable
    moto_port = moto_port or free_port()
    moto = _spawn([py, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)], log_dir / "moto.log")
    stack = Stack(aws_endpoint=f"http://127.0.0.1:{moto_port}", procs={"moto": moto})
    stack.custom_action_secret = secrets.token_hex(24)
    stack.frameio_webhook_secret = secrets.token_hex(24)
    stack.frameio_token = secrets.token_hex(16)
    stack.frameio_client_id = "mediaflow-local"
    stack.frameio_client_secret = secrets.token_hex(16)
    try:
        wait_http(f"{stack.aws_endpoint}/moto-api/", proc=moto)
        aws_env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        port = free_port()
        proc = stack.procs["mediaconvert"] = _spawn(
            [
                py,
                "-m",
                "include.local_stack.mediaconvert_service",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--s3-endpoint",
                stack.aws_endpoint,
            ],
            log_dir / "mediaconvert.log",
            env=aws_env,
        )
        stack.mediaconvert_endpoint = f"http://127.0.0.1:{port}"
        wait_http(f"{stack.mediaconvert_endpoint}/healthz", proc=proc)
        port = free_port()
        proc = stack.procs["frameio"] = _spawn(
            [py, "-m", "include.local_stack.frameio_standin", "--host", "127.0.0.1", "--port", str(port)],
            log_dir / "frameio.log",
            env={
                "FRAMEIO_STANDIN_TOKEN": stack.frameio_token,
                "FRAMEIO_STANDIN_CLIENT_ID": stack.frameio_client_id,
                "FRAMEIO_STANDIN_CLIENT_SECRET": stack.frameio_client_secret,
            },
        )
        stack.frameio_url = f"http://127.0.0.1:{port}"
        wait_http(f"{stack.frameio_url}/healthz", proc=proc)
    except Exception:
        stack.stop()
        raise
    stack.pids = {name: proc.pid for name, proc in stack.procs.items()}
    return stack


# -- background mode (make stack-up / stack-down) ------------------------------------------------
def write_env_file(stack: Stack, path: Path = ENV_FILE) -> None:
    lines = ["# Written by `make stack-up`; `source` it to point Airflow, boto3 or the AWS CLI at the local stack."]
    for key, value in sorted(stack.env().items()):
        lines.append(f"export {key}={_shell_quote(value)}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def save_state(stack: Stack) -> None:
    STATE_DIR.mkdir(exist_ok=True)
    state = {k: v for k, v in stack.__dict__.items() if k != "procs"}
    path = STATE_DIR / "stack.json"
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def load_state() -> Stack | None:
    path = STATE_DIR / "stack.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    stack = Stack(**data)
    running = all(alive(pid) for pid in stack.pids.values())
    return stack if running else None


def alive(pid: int) -> bool:
    return processes.alive_pid(pid)


def up() -> Stack:
    """Start the stack in the background once; later calls reuse the running one."""
    from include.local_stack import bootstrap

    existing = load_state()
    if existing:
        return existing
    stop_recorded()
    stack = start(STATE_DIR / "logs", moto_port=int(os.environ.get("MEDIAFLOW_MOTO_PORT", "0")) or None)
    bootstrap.bootstrap(stack)
    save_state(stack)
    write_env_file(stack)
    return stack


def stop_recorded() -> None:
    path = STATE_DIR / "stack.json"
    if path.exists():
        for pid in json.loads(path.read_text()).get("pids", {}).values():
            stop_pid(pid)
        path.unlink()
    ENV_FILE.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    if args.action == "up":
        stack = up()
        print(f"local AWS stack (moto server): {stack.aws_endpoint}")
        if stack.mediaconvert_endpoint:
            print(f"local MediaConvert service:    {stack.mediaconvert_endpoint}")
        if stack.frameio_url:
            print(f"Frame.io stand-in:             {stack.frameio_url}")
        print(f"environment written to {ENV_FILE.name}: `source {ENV_FILE.name}`")
        print(f"AWS CLI example: aws --endpoint-url {stack.aws_endpoint} s3 ls")
    elif args.action == "down":
        stop_recorded()
        print("local AWS stack stopped")
    else:
        stack = load_state()
        print(json.dumps({"running": bool(stack), "pids": stack.pids if stack else {}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
