"""W1's second half: the whole `s3_bulk_copy` DAG through `airflow dags test`, against SeaweedFS.

Orchestration overhead = DAG wall time minus the copy engine's own time on the same objects
(W1's median), against the target of 15 s fixed plus 0.5 s per mapped task.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import DST, SRC, Context
from bench.core import CheckFailed, check_copy, python_env, run_tool
from bench.paths import ROOT

FIXED_S, PER_TASK_S = 15.0, 0.5


def airflow_env(ctx: Context, home: Path) -> dict[str, str]:
    conn = {
        "conn_type": "aws",
        "login": ctx.server.access_key,
        "password": ctx.server.secret_key,
        "extra": {"endpoint_url": ctx.server.endpoint, "region_name": "us-east-1"},
    }
    env = ctx.server.env()
    env.update(
        python_env(),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP=r"(airflow|mediaflow)\..*",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",  # the timeline is read from the INFO lines
        AIRFLOW_CONN_AWS_DEFAULT=json.dumps(conn),
    )
    return env


EVENTS = (
    ("DAG bundles loaded", "DAG bundle loaded (CLI imported)"),
    ("Filling up the DagBag", "parsing the DAG folder"),
    ("[DAG TEST] running task", "task handed to the in-process runner"),
    ("Task started", "task started (execution API answered)"),
    ("[DAG TEST] end task", "task finished"),
    ("Marking run", "run marked finished"),
)


def timeline(output: str, started: datetime) -> list[str]:
    """Seconds since the CLI was started at which `airflow dags test` logged its milestones."""
    out = []
    for line in output.splitlines():
        for marker, label in EVENTS:
            if marker in line and line[:4].isdigit():
                try:
                    at = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
                except ValueError:
                    continue
                task = line.split("task_id=")[1].split()[0] if "task_id=" in line else ""
                if not task and "<TaskInstance: s3_bulk_copy." in line:
                    task = line.split("<TaskInstance: s3_bulk_copy.")[1].split()[0]
                out.append(f"{(at - started).total_seconds():7.2f} s  {label} {task}".rstrip())
                break
    return out


def task_phases(db: Path, wall: float) -> dict[str, float]:
    """Where the DAG's wall time went, from the metadata DB of `airflow dags test`: each task's
    duration, the run's span, and what lies outside the run (process start, parsing)."""
    with sqlite3.connect(db) as conn:
        run_id, start, end = conn.execute(
            "SELECT run_id, start_date, end_date FROM dag_run WHERE dag_id = 's3_bulk_copy' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        rows = conn.execute(
            "SELECT task_id, map_index, duration FROM task_instance WHERE dag_id = 's3_bulk_copy' AND run_id = ?",
            (run_id,),
        ).fetchall()
    span = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() if start and end else 0.0
    out = {f"task {t}" + (f"[{m}]" if m >= 0 else ""): round(d or 0.0, 2) for t, m, d in rows}
    out["dag run span"] = round(span, 2)
    out["outside the run (CLI start, DAG parsing, DB)"] = round(wall - span, 2)
    return out


def w1_dag(ctx: Context, engine_median_s: float, expected: dict[str, int], runs: int) -> dict[str, Any]:
    home = ctx.work / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(ctx, home)
    airflow = [sys.executable, "-m", "airflow"]
    ctx.log("W1: airflow db migrate (once)")
    run_tool([*airflow, "db", "migrate"], env, cwd=str(ROOT))
    walls, tasks, phases, timelines = [], [], [], []
    for n in range(runs):
        prefix = f"W1/dag-r{n}/"
        ctx.clean_dst(prefix)
        report_prefix = f"W1-reports/dag-r{n}"
        conf = {
            "source_bucket": SRC,
            "source_prefix": "w1/",
            "destination_bucket": DST,
            "destination_prefix": prefix,
            "report_bucket": DST,
            "report_prefix": report_prefix,
        }
        started, started_at = time.perf_counter(), datetime.now(UTC)
        output = run_tool([*airflow, "dags", "test", "s3_bulk_copy", "--conf", json.dumps(conf)], env, cwd=str(ROOT))
        walls.append(time.perf_counter() - started)
        timelines.append(timeline(output, started_at))
        check_copy(ctx.s3, DST, prefix, expected)
        plan_keys = [
            o["Key"]
            for o in ctx.s3.list_objects_v2(Bucket=DST, Prefix=report_prefix + "/").get("Contents", ())
            if o["Key"].endswith("/plan.json")
        ]
        if not plan_keys:
            raise CheckFailed(f"s3_bulk_copy wrote no plan under s3://{DST}/{report_prefix}/")
        plan = json.loads(ctx.s3.get_object(Bucket=DST, Key=plan_keys[0])["Body"].read())
        tasks.append(len(plan["payloads"]))
        summaries = [k.replace("plan.json", "summary.json") for k in plan_keys]
        summary = json.loads(ctx.s3.get_object(Bucket=DST, Key=summaries[0])["Body"].read())
        if summary.get("failed") or summary.get("copied") != len(expected):
            raise CheckFailed(f"s3_bulk_copy report says {summary}")
        phases.append(task_phases(home / "airflow.db", walls[-1]))
        ctx.clean_dst(prefix)
        ctx.clean_dst(report_prefix + "/")
        ctx.log(
            f"  dag            run {n + 1}/{runs}: {walls[-1]:8.2f} s  ({len(expected)} checked, {tasks[-1]} mapped)"
        )
    wall = sorted(walls)[len(walls) // 2]
    mapped = max(tasks)
    overhead = wall - engine_median_s
    allowed = FIXED_S + PER_TASK_S * mapped
    return {
        "command": "airflow dags test s3_bulk_copy --conf {...} (AIRFLOW_CONN_AWS_DEFAULT -> SeaweedFS)",
        "runs_s": [round(w, 3) for w in walls],
        "median_s": round(wall, 3),
        "engine_median_s": round(engine_median_s, 3),
        "mapped_tasks": mapped,
        "overhead_s": round(overhead, 3),
        "overhead_allowed_s": allowed,
        "overhead_met": bool(overhead <= allowed),
        "destination_checks": len(walls),
        "phases_s": phases[walls.index(wall)] if phases else {},
        "timeline": timelines[walls.index(wall)] if timelines else [],
    }
