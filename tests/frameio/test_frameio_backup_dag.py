"""frameio_backup through dag.test() against the Frame.io stand-in and moto server over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import xxhash

from tests.helpers import run_dag

MiB = 1024 * 1024


@pytest.fixture
def standin(local_stack):
    """The stand-in's base URL with faults cleared before and after the test."""
    url = local_stack.frameio_url
    requests.post(f"{url}/_control/reset", timeout=5).raise_for_status()
    yield url
    requests.post(f"{url}/_control/reset", timeout=5).raise_for_status()


@pytest.fixture
def small_parts(monkeypatch):
    """5 MiB multipart threshold and parts, so a few-MiB file goes through ranged multipart."""
    monkeypatch.setenv("AIRFLOW_VAR_FRAMEIO_BACKUP_MULTIPART_THRESHOLD", str(5 * MiB))
    monkeypatch.setenv("AIRFLOW_VAR_FRAMEIO_BACKUP_PART_SIZE", str(5 * MiB))
    monkeypatch.setenv("AIRFLOW_VAR_FRAMEIO_BACKUP_MAX_CONCURRENCY", "3")


def seed(url: str, tree: list[dict], name: str = "test project") -> dict:
    resp = requests.post(f"{url}/_control/seed", json={"name": name, "tree": tree}, timeout=10)
    resp.raise_for_status()
    return resp.json()


def faults(url: str, **values) -> None:
    requests.post(f"{url}/_control/faults", json=values, timeout=5).raise_for_status()


def stats(url: str) -> dict:
    return requests.get(f"{url}/_control/stats", timeout=5).json()


def content(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def backup_keys(s3, bucket: str, prefix: str) -> dict[str, int]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def asset(seeded: dict, path: str, nth: int = 0) -> dict:
    return [a for a in seeded["assets"] if a["path"] == path][nth]


TREE = [
    {
        "type": "folder",
        "name": "Dailies",
        "children": [
            {
                "type": "folder",
                "name": "Day 1",
                "children": [
                    {"type": "file", "name": "clip.mov", "size": 3000, "seed": 1},
                    {"type": "file", "name": "clip.mov", "size": 2000, "seed": 2},
                    {
                        "type": "folder",
                        "name": "audio",
                        "children": [{"type": "file", "name": "boom.wav", "size": 700, "seed": 3}],
                    },
                ],
            },
            {
                "type": "version_stack",
                "name": "Cut",
                "versions": [
                    {"name": "cut_v1.mp4", "size": 1000, "seed": 4},
                    {"name": "cut_v2.mp4", "size": 1100, "seed": 5},
                ],
            },
            {"type": "file", "name": "uploading.mov", "size": 100, "uploading": True},
            {"type": "file", "name": "review.mp4", "size": 100, "watermarked": True},
        ],
    }
]


@pytest.mark.parametrize("api_version", ["v4", "v2"])
def test_folder_tree_keeps_paths_disambiguates_names_and_takes_stack_head(
    airflow_db, standin, s3, make_bucket, api_version
):
    seeded = seed(standin, TREE)
    bucket = make_bucket(f"fio{api_version}")  # the bucket name is cut from the test name
    folder = asset(seeded, "Dailies")
    # a 429 storm on the listing and show calls, each asking for a second's wait: the run still completes
    faults(standin, throttle=6, retry_after="1")
    result = run_dag(
        "frameio_backup",
        {
            "asset_id": folder["id"],
            "api_version": api_version,
            "account_id": seeded["account_id"],
            "destination_bucket": bucket,
            "destination_prefix": "backup",
        },
    )
    assert result.state == "success", result.task_states
    assert stats(standin)["throttled"] == 6
    assert result.task_states["resolve"] == ["success"]
    keys = backup_keys(s3, bucket, "backup/")
    first, second = asset(seeded, "Dailies/Day 1/clip.mov", 0), asset(seeded, "Dailies/Day 1/clip.mov", 1)
    assert keys == {
        "backup/Dailies/Day 1/clip.mov": 3000,
        f"backup/Dailies/Day 1/clip~{second['id']}.mov": 2000,
        "backup/Dailies/Day 1/audio/boom.wav": 700,
        "backup/Dailies/cut_v2.mp4": 1100,
    }
    head = s3.head_object(Bucket=bucket, Key="backup/Dailies/Day 1/clip.mov")
    assert head["Metadata"]["frameio-asset-id"] == first["id"]
    body = content(s3, bucket, "backup/Dailies/Day 1/clip.mov")
    assert head["Metadata"]["frameio-xxh64"] == xxhash.xxh64(body).hexdigest()
    assert s3.head_object(Bucket=bucket, Key="backup/Dailies/cut_v2.mp4")["Metadata"]["frameio-version"] == "2"
    totals = result.xcoms["transfer"]
    assert sum(t["copied"] for t in totals) == 4
    assert result.only_xcom("summary") == {"copied": 4, "skipped_existing": 0, "skipped_no_original": 1, "bytes": 6800}
    # one transfer per file, each labelled with its file name in the grid
    assert sorted(result.labels["transfer"]) == ["boom.wav", "clip.mov", "clip.mov", "cut_v2.mp4", "review.mp4"]
    assert sum(t["skipped_no_original"] for t in totals) == 1  # the watermarked review copy

    # re-run: everything is already there, nothing is copied
    rerun = run_dag(
        "frameio_backup",
        {
            "asset_id": folder["id"],
            "api_version": api_version,
            "account_id": seeded["account_id"],
            "destination_bucket": bucket,
            "destination_prefix": "backup",
        },
    )
    assert rerun.state == "success", rerun.task_states
    assert sum(t["copied"] for t in rerun.xcoms["transfer"]) == 0
    assert sum(t["skipped_existing"] for t in rerun.xcoms["transfer"]) == 4
    assert backup_keys(s3, bucket, "backup/") == keys


def test_include_versions_backs_up_every_version_of_a_stack(airflow_db, standin, s3, make_bucket):
    seeded = seed(standin, TREE)
    bucket = make_bucket("fio")
    stack = asset(seeded, "Dailies/Cut")
    result = run_dag(
        "frameio_backup",
        {
            "asset_id": stack["id"],
            "asset_type": "version_stack",
            "account_id": seeded["account_id"],
            "destination_bucket": bucket,
            "include_versions": True,
        },
    )
    assert result.state == "success", result.task_states
    assert backup_keys(s3, bucket, "Cut/") == {"Cut/v1/cut_v1.mp4": 1000, "Cut/v2/cut_v2.mp4": 1100}


def test_large_file_parts_with_one_failing_once_and_url_expiring(airflow_db, standin, s3, make_bucket, small_parts):
    size = 17 * MiB + 123  # four 5 MiB parts
    seeded = seed(standin, [{"type": "file", "name": "master.mov", "size": size, "seed": 7}])
    file = asset(seeded, "master.mov")
    bucket = make_bucket("fio")
    # the third part answers 500 once; each signed URL serves two GETs, then answers 403
    faults(standin, fail_ranges=[{"asset_id": file["id"], "start": 10 * MiB, "times": 1}], url_max_uses=2)
    result = run_dag(
        "frameio_backup",
        {"asset_id": file["id"], "api_version": "v2", "destination_bucket": bucket, "destination_prefix": "big"},
    )
    assert result.state == "success", result.task_states
    counters = stats(standin)
    assert counters["range_failures"] == 1
    assert counters["original_403"] >= 1
    body = content(s3, bucket, "big/master.mov")
    assert len(body) == size
    assert (
        s3.head_object(Bucket=bucket, Key="big/master.mov")["Metadata"]["frameio-xxh64"]
        == xxhash.xxh64(body).hexdigest()
    )
    assert counters["range_gets"] == 4  # every part served once, the failed one on its retry
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_checksum_mismatch_fails_and_leaves_nothing(airflow_db, standin, s3, make_bucket, small_parts):
    seeded = seed(
        standin,
        [
            {"type": "file", "name": "bad_small.mov", "size": 4000, "bad_checksum": True},
            {"type": "file", "name": "bad_large.mov", "size": 11 * MiB, "bad_checksum": True},
            {"type": "file", "name": "good.mov", "size": 4000},
        ],
    )
    bucket = make_bucket("fio")
    result = run_dag(
        "frameio_backup",
        {"asset_id": seeded["project_id"], "asset_type": "project", "api_version": "v2", "destination_bucket": bucket},
    )
    assert result.state == "failed"
    assert sorted(result.task_states["transfer"]) == ["failed", "failed", "success"]
    # the last task still sums up the run, and carries its failure
    assert result.task_states["summary"] == ["failed"]
    keys = backup_keys(s3, bucket, "test project/")
    assert keys == {"test project/good.mov": 4000}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_server_without_range_support_falls_back_to_one_stream(airflow_db, standin, s3, make_bucket, small_parts):
    size = 12 * MiB
    seeded = seed(standin, [{"type": "file", "name": "norange.mxf", "size": size, "no_range": True, "seed": 9}])
    bucket = make_bucket("fio")
    result = run_dag(
        "frameio_backup",
        {
            "asset_id": asset(seeded, "norange.mxf")["id"],
            "account_id": seeded["account_id"],
            "destination_bucket": bucket,
        },
    )
    assert result.state == "success", result.task_states
    assert len(content(s3, bucket, "norange.mxf")) == size
    assert stats(standin).get("range_gets", 0) == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_unknown_asset_fails_at_the_first_try_naming_it(airflow_db, standin, make_bucket, monkeypatch, capsys):
    """A 404 is input that retrying cannot fix: with the DAG's retries on, resolve fails at try 1."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from mediaflow.common import dag_defaults

    assert dag_defaults.DEFAULT_ARGS["retries"] > 0
    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retry_delay", timedelta(seconds=1))
    monkeypatch.setitem(dag_defaults.DEFAULT_ARGS, "retry_exponential_backoff", False)
    missing = "00000000-0000-0000-0000-000000000000"
    bucket = make_bucket("fio")
    result = run_dag(
        "frameio_backup", {"asset_id": missing, "api_version": "v2", "destination_bucket": bucket}, keep_retries=True
    )
    assert result.state == "failed"
    assert result.task_states["resolve"] == ["failed"]
    # nothing after resolve fails with an error of its own
    assert {t: s for t, s in result.task_states.items() if t != "resolve"} == {
        "resolved": ["upstream_failed"],
        "transfer": ["upstream_failed"],
        "summary": ["upstream_failed"],
    }
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id="frameio_backup", run_id=result.run_id, task_id="resolve")
        assert ti.one().try_number == 1
    assert stats(standin)["api_requests"] == 1  # asked once: a 404 is not retried by the client either
    logged = capsys.readouterr().out
    assert f"Frame.io asset {missing} (v2, asset_type not given) cannot be read" in logged
    assert "HTTP 404" in logged


def test_scheduled_backup_reads_targets_variable_and_copies_only_what_is_new(
    airflow_db, standin, s3, make_bucket, monkeypatch, capfd
):
    import json

    first = seed(standin, [{"type": "folder", "name": "Selects", "children": [{"name": "a.mov", "size": 500}]}])
    second = seed(standin, [{"type": "file", "name": "b.wav", "size": 300}], name="Audio project")
    bucket = make_bucket("fio")
    targets = [
        {"asset_id": asset(first, "Selects")["id"], "api_version": "v2", "destination_bucket": bucket},
        {
            "asset_id": second["project_id"],
            "asset_type": "project",
            "account_id": second["account_id"],
            "destination_bucket": bucket,
            "destination_prefix": "audio",
        },
    ]
    monkeypatch.setenv("AIRFLOW_VAR_FRAMEIO_BACKUP_TARGETS", json.dumps(targets))
    result = run_dag("frameio_backup_scheduled")
    assert result.state == "success", result.task_states
    assert backup_keys(s3, bucket, "").keys() >= {"Selects/a.mov", "audio/Audio project/b.wav"}
    logged = capfd.readouterr().out
    assert (
        "Frame.io backup: 2 files (800 bytes) from 2 targets in 2 transfer tasks\n  backed up  2 (800 bytes)" in logged
    )
    assert f"  to         s3://{bucket}/\n  to         s3://{bucket}/audio/" in logged

    # a new upload lands between two scheduled runs: only it is copied
    requests.post(
        f"{standin}/_control/add",
        json={"parent_id": asset(first, "Selects")["id"], "tree": [{"name": "c.mov", "size": 200}]},
        timeout=5,
    ).raise_for_status()
    again = run_dag("frameio_backup_scheduled")
    assert again.state == "success", again.task_states
    assert sum(t["copied"] for t in again.xcoms["transfer"]) == 1
    assert sum(t["skipped_existing"] for t in again.xcoms["transfer"]) == 2
    assert backup_keys(s3, bucket, "Selects/") == {"Selects/a.mov": 500, "Selects/c.mov": 200}


def test_scheduled_backup_without_targets_is_skipped_and_names_the_variable(airflow_db, monkeypatch, capfd):
    monkeypatch.delenv("AIRFLOW_VAR_FRAMEIO_BACKUP_TARGETS", raising=False)
    result = run_dag("frameio_backup_scheduled")
    assert result.task_states == {
        "resolve": ["skipped"],
        "resolved": ["skipped"],
        "transfer": ["skipped"],
        "summary": ["skipped"],
    }
    assert result.state == "success"  # nothing failed: there was nothing to do
    out, err = capfd.readouterr()
    assert "nothing to back up: set the Airflow Variable frameio_backup_targets to a JSON list" in out + err

    monkeypatch.setenv("AIRFLOW_VAR_FRAMEIO_BACKUP_TARGETS", "[]")  # set, but empty
    assert run_dag("frameio_backup_scheduled").task_states["resolve"] == ["skipped"]


def test_empty_folder_succeeds_with_nothing_to_copy(airflow_db, standin, s3, make_bucket):
    seeded = seed(standin, [{"type": "folder", "name": "Empty", "children": []}])
    bucket = make_bucket("fio")
    result = run_dag(
        "frameio_backup",
        {"asset_id": asset(seeded, "Empty")["id"], "api_version": "v2", "destination_bucket": bucket},
    )
    assert result.state == "success", result.task_states
    assert result.only_xcom("resolve") == []
    assert backup_keys(s3, bucket, "Empty/") == {}


def test_large_folders_are_grouped_into_batches_within_the_mapping_limit(
    airflow_db, local_stack, standin, s3, make_bucket, monkeypatch
):
    import json

    # the default limit is 1024 mapped tasks; 4 here shows the grouping without 1024 task runs
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "4")
    files = [{"name": f"shot_{i:02d}.mov", "size": 100 + i} for i in range(10)]
    seeded = seed(standin, [{"type": "folder", "name": "Many", "children": files}])
    bucket = make_bucket("fio")
    result = run_dag(
        "frameio_backup",
        {"asset_id": asset(seeded, "Many")["id"], "api_version": "v2", "destination_bucket": bucket},
    )
    assert result.state == "success", result.task_states
    batches = result.only_xcom("resolve")
    assert len(batches) <= 4
    assert result.labels["transfer"] == [b["label"] for b in batches]
    assert all(label.startswith("shot_") and label.endswith(" more") for label in result.labels["transfer"])
    assert sum(b["files"] for b in batches) == 10
    assert len(result.task_states["transfer"]) == len(batches)
    assert backup_keys(s3, bucket, "Many/") == {f"Many/shot_{i:02d}.mov": 100 + i for i in range(10)}
    # plans and XCom carry descriptors only: no download URLs, no credentials
    plan_bucket, _, plan_key = batches[0]["plan_uri"][5:].partition("/")
    plan = content(s3, plan_bucket, plan_key).decode()
    for secret in (local_stack.frameio_token, local_stack.frameio_client_secret, "/originals/"):
        assert secret not in plan
        assert secret not in json.dumps(result.xcoms)
