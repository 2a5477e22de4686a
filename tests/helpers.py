"""Test helpers shared across suites: service requirements, DAG runs, real media."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: PYTHONPATH for a child Python process that imports mediaflow (plugins/) and the repository's packages
PACKAGE_PATH = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: Any, what: str) -> None:
    """Skip when a service or binary is missing; in CI (CI=true) fail instead, saying what to start."""
    if condition:
        return
    message = f"missing requirement: {what}"
    if IN_CI:
        pytest.fail(message + " (CI=true: required services must be present)", pytrace=False)
    pytest.skip(message)


# -- Airflow deployments -----------------------------------------------------------------------
@contextmanager
def airflow_deployment(home: Path, stack: Any, database: Any) -> Iterator[Any]:
    """api-server, scheduler, dag-processor and triggerer started as `make up` starts them, on a
    fresh database of the embedded PostgreSQL `database`, wired to `stack`; their log tails are
    printed if anything fails, and they are stopped (and the database dropped) at the end."""
    import secrets
    import shutil

    from include.local_stack.airflow_local import AirflowProcesses

    require(shutil.which("ffmpeg"), "ffmpeg: run `make tools`")
    with database.fresh_database(f"mediaflow_it_{secrets.token_hex(4)}") as db_url:
        cluster = AirflowProcesses(home=home, sql_alchemy_conn=db_url, extra_env=stack.env())
        cluster.stack = stack
        try:
            cluster.start()
            yield cluster
        except BaseException:
            for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
                print(f"--- {name} log tail ---\n{cluster.logs(name)}")
            raise
        finally:
            cluster.stop()


# -- DAG runs -----------------------------------------------------------------------------------
@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, list[str]] = field(default_factory=dict)
    #: try number of every task instance (map index order), to tell a first-try failure from a retried one
    tries: dict[str, list[int]] = field(default_factory=dict)
    xcoms: dict[str, list[Any]] = field(default_factory=dict)
    #: the label (rendered map_index_template) of every mapped task instance, in map index order
    labels: dict[str, list[str | None]] = field(default_factory=dict)

    def only_xcom(self, task_id: str) -> Any:
        values = self.xcoms.get(task_id, [])
        assert len(values) == 1, f"{task_id}: expected one return value, got {values!r}"
        return values[0]


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    # parse only the DAG's own file when it has one: another DAG's import error is the
    # integrity test's business, not a reason for this DAG's test to fail
    own_file = ROOT / "dags" / f"{dag_id}.py"
    bag = DagBag(dag_folder=str(own_file if own_file.exists() else ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    assert dag_id in bag.dags, f"{dag_id} not found; DAGs: {sorted(bag.dags)}"
    return bag.dags[dag_id]


def run_dag(
    dag_id: str, conf: dict[str, Any] | None = None, *, keep_retries: bool = False, **test_kwargs: Any
) -> RunResult:
    """Run a DAG with `dag.test(run_conf=...)` (mapped and deferred tasks included) and collect
    the final state of the run, every task instance, and their return values.

    Retries are switched off unless `keep_retries`, so a failure shows at once instead of after
    the production retry delays."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag = load_dag(dag_id)
    if not keep_retries:
        for task in dag.tasks:
            task.retries = 0
    dr = dag.test(run_conf=conf or {}, **test_kwargs)
    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=dr.run_id).one()
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dr.run_id).all()
        result = RunResult(dag_id=dag_id, run_id=dr.run_id, state=str(run.state))
        for ti in sorted(tis, key=lambda t: (t.task_id, t.map_index)):
            result.task_states.setdefault(ti.task_id, []).append(str(ti.state))
            result.tries.setdefault(ti.task_id, []).append(int(ti.try_number))
            if ti.map_index >= 0:
                result.labels.setdefault(ti.task_id, []).append(ti.rendered_map_index)
        rows = (
            session.query(XComModel)
            .filter_by(dag_id=dag_id, run_id=dr.run_id, key="return_value")
            .order_by(XComModel.task_id, XComModel.map_index)
            .all()
        )
        for row in rows:
            value = row.value
            if isinstance(value, str | bytes):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            result.xcoms.setdefault(row.task_id, []).append(value)
    return result


def refused_before_a_run(cluster: Any, dag_id: str, conf: dict[str, Any]) -> str:
    """Trigger `dag_id` with a conf the API server must refuse: HTTP 400 and no run created.
    Returns the refusal's detail for the caller to check what it names."""
    cluster.unpause(dag_id)
    before = len(cluster.dag_runs(dag_id))
    resp = cluster.post_run(dag_id, conf)
    assert resp.status_code == 400, (conf, resp.text)
    assert len(cluster.dag_runs(dag_id)) == before, f"{conf} was refused but a run was created"
    return resp.json()["detail"]


# -- media --------------------------------------------------------------------------------------
def make_video(
    path: Path,
    seconds: float = 3.0,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    audio: bool = True,
    rotate: int | None = None,
    gop: int | None = None,
    faststart: bool = False,
) -> Path:
    """A real short video from ffmpeg's `testsrc2` (and a `sine` tone when `audio`); `faststart`
    puts an mp4's index before its frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if gop:
        cmd += ["-g", str(gop)]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    cmd.append(str(path))
    subprocess.run(cmd, check=True)
    if rotate is not None:
        set_rotation(path, rotate)
    return path


def set_rotation(path: Path, degrees: int) -> Path:
    """Give an mp4/mov a display matrix (what phones write for portrait video).

    ffmpeg 5.1 has no `-display_rotation`; a stream-copy pass with the `rotate` tag writes the
    matrix, which ffprobe then reports as a rotation side-data entry.
    """
    rotated = path.with_suffix(".rot" + path.suffix)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(path),
            "-c",
            "copy",
            "-metadata:s:v:0",
            f"rotate={degrees}",
            str(rotated),
        ],
        check=True,
    )
    rotated.replace(path)
    return path


def cut_short(path: Path, keep: float = 0.5) -> Path:
    """Keep the first `keep` of the file's bytes, as an interrupted upload or copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


#: the incomplete inputs every pipeline must refuse before writing anything, and what the
#: refusal says: an mp4 whose index (written first, +faststart) promises 20 s but half the
#: bytes are gone, a zero-length object, and a text file under a video name
BAD_MEDIA = {
    "cut-short": "is incomplete: its container declares 20.00 s of video (500 frames) but its frames stop at",
    "empty": "is empty (0 bytes)",
    "text": "Invalid data found when processing input",
}


def make_bad_media(folder: Path, kind: str) -> Path:
    """One of `BAD_MEDIA`'s inputs, as a file named `<kind>.mp4` in `folder`."""
    path = folder / f"{kind}.mp4"
    if kind == "cut-short":
        return cut_short(make_video(path, 20, width=320, height=240, fps=25, faststart=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"" if kind == "empty" else b"meeting notes, not a video\n" * 40)
    return path


def make_audio_only(path: Path, seconds: float = 2.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            str(seconds),
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    return path


def ffprobe(path_or_url: str | Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path_or_url)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)
