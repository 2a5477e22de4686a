"""mediaflow_healthcheck through dag.test() against moto server over HTTP."""

from __future__ import annotations

from tests.helpers import run_dag


def test_healthcheck_passes_on_the_local_stack(airflow_db, local_stack, ffmpeg_bin):
    result = run_dag(
        "mediaflow_healthcheck",
        {
            "buckets": ["mediaflow-source", "mediaflow-destination", "mediaflow-media"],
            "queue_names": ["mediaflow-segment-uploads"],
            "table_name": "mediaflow-videos",
        },
    )
    assert result.state == "success", result.task_states
    report = result.only_xcom("check")
    assert report["buckets"] == {"mediaflow-source": "ok", "mediaflow-destination": "ok", "mediaflow-media": "ok"}
    assert report["table"] == "ACTIVE"
    assert report["queues"]["mediaflow-segment-uploads"].endswith("/mediaflow-segment-uploads")
    assert report["ffmpeg"].startswith("ffmpeg version")


def test_healthcheck_names_each_missing_resource(airflow_db, local_stack):
    result = run_dag(
        "mediaflow_healthcheck",
        {"buckets": ["mediaflow-source", "no-such-bucket-here"], "table_name": "no-such-table", "check_ffmpeg": False},
    )
    assert result.state == "failed"
    assert result.task_states["check"] == ["failed"]
