"""Killing a MediaConvert task cancels its job on the local service: a task waiting in a real
process gets SIGTERM, Airflow's task runner calls on_kill, and the job ends CANCELED. (The
deferred wait is covered in tests/mediaconvert/test_trigger.py and, on real Airflow processes,
in tests/integration/test_mediaconvert_transcode.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tests.helpers import PACKAGE_PATH, ROOT, make_video
from tests.mediaconvert.local_jobs import wait_for_status

KILL_DAGS = ROOT / "tests" / "mediaconvert" / "kill_dags"


def _job_for(mc, input_uri: str) -> dict | None:
    jobs = [j for j in mc.list_jobs(MaxResults=20)["Jobs"] if j["Settings"]["Inputs"][0]["FileInput"] == input_uri]
    return jobs[0] if jobs else None


def _airflow_env(home) -> dict[str, str]:
    """A private AIRFLOW_HOME and database whose DAGs folder holds only the killable DAG."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(KILL_DAGS),
        "PYTHONPATH": PACKAGE_PATH,
    }


def test_sigterm_to_a_waiting_task_cancels_its_job(local_stack, s3, make_bucket, ffmpeg_bin, tmp_path):
    mc = local_stack.boto3_client("mediaconvert")
    src, out = make_bucket("in"), make_bucket("out")
    s3.upload_file(str(make_video(tmp_path / "long.mp4", 30, width=1280, height=720)), src, "long.mp4")
    env = _airflow_env(tmp_path / "airflow-home")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=env)
    conf = {"bucket": src, "key": "long.mp4", "destination": f"s3://{out}/"}
    proc = subprocess.Popen(
        [sys.executable, str(KILL_DAGS / "killable_transcode.py"), json.dumps(conf)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # the task logs the job it submitted, and from then on waits for it
        submitted = f"for s3://{src}/long.mp4 is "
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if submitted in line:
                break
        job = _job_for(mc, f"s3://{src}/long.mp4")
        assert job is not None, "".join(lines) + proc.communicate(timeout=60)[0]
        wait_for_status(mc, job["Id"], {"PROGRESSING"})

        proc.send_signal(signal.SIGTERM)
        output = "".join(lines) + proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()

    job = mc.get_job(Id=job["Id"])["Job"]
    assert job["Status"] == "CANCELED", output
    assert f"canceled MediaConvert job {job['Id']}: its task was killed" in output
    assert f"MediaConvert job {job['Id']} ended CANCELED" in output
    [result] = [line.removeprefix("RESULT ") for line in output.splitlines() if line.startswith("RESULT ")]
    assert json.loads(result) == {"state": "failed", "try_number": 1}
