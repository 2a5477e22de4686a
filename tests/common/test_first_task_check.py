"""A run that never met the API server's check (CLI, TriggerDagRunOperator, a deployment without
the plugin) meets it in the DAG's first task: it fails at its first try, with the same sentence,
and nothing is retried."""

from __future__ import annotations

import pytest

from tests.helpers import run_dag


@pytest.mark.parametrize(
    ("dag_id", "conf", "first_task", "expected"),
    [
        (
            "video_segment_index",
            {"bucket": "media-in", "key": "a.mp4", "prefix": "x/"},
            "resolve_videos",
            "are both set",
        ),
        ("mediaconvert_transcode", {"bucket": "media-in"}, "resolve_inputs", "no input: key is empty"),
        (
            "mediaflow_healthcheck",
            {"buckets": ["media-in"], "table_nam": "t"},
            "check",
            "unknown conf key(s) 'table_nam'",
        ),
    ],
)
def test_bad_conf_fails_the_first_task_at_its_first_try(airflow_db, capfd, dag_id, conf, first_task, expected):
    result = run_dag(dag_id, conf, keep_retries=True)
    assert result.state == "failed"
    assert result.task_states[first_task] == ["failed"]
    assert result.tries[first_task] == [1], "a conf error must not be retried"
    out = capfd.readouterr()
    assert f"{dag_id}: " in out.out + out.err and expected in out.out + out.err
