"""s3_bulk_copy through dag.test() against moto server over HTTP."""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote_plus, unquote_plus

import pytest

from tests.helpers import run_dag

MiB = 1024 * 1024
#: keys that break naive code: spaces, '+', '%', unicode, deep paths, a zero-byte object
ODD_KEYS = {
    "in/a b/c d.txt": b"spaces",
    "in/plus+sign.txt": b"plus",
    "in/100%/per%20cent.txt": b"percent",
    "in/ünïcødé/日本語.txt": b"unicode",
    "in/" + "/".join(f"d{i}" for i in range(12)) + "/deep.txt": b"deep",
    "in/empty.bin": b"",
}


def _blob(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(256)) * (n // 256) + b"x" * (n % 256)


def _report(s3, summary: dict) -> list[list[str]]:
    bucket, _, key = summary["report_uri"][5:].partition("/")
    return list(csv.reader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))


def _summary(s3, bucket: str, run_id: str, prefix: str = "mediaflow-reports/s3_bulk_copy") -> dict:
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in run_id)
    return json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/{safe}/summary.json")["Body"].read())


def _keys(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", ())]


def _put_many(s3, bucket: str, objects: dict[str, bytes], **extra) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1], **extra), objects.items()))


@pytest.fixture(scope="module")
def bulk_source(local_stack):
    """2,600 small keys (past two ListObjectsV2 pages of 1,000 and the 2,500 mark), uploaded once."""
    s3 = local_stack.boto3_client("s3")
    bucket = "bulk-copy-many-keys"
    s3.create_bucket(Bucket=bucket)
    _put_many(s3, bucket, {f"many/{i // 100:03d}/obj-{i:05d}.dat": str(i).encode() for i in range(2600)})
    return bucket


def test_copies_a_mixed_tree_then_a_rerun_copies_nothing(airflow_db, local_stack, s3, make_bucket):
    src, dst = make_bucket("src", versioned=True), make_bucket("dst")
    _put_many(s3, src, ODD_KEYS)
    s3.put_object(Bucket=src, Key="outside/not-copied.txt", Body=b"no")
    medium, huge = _blob(6 * MiB + 123, 1), _blob(12 * MiB + 5, 2)
    s3.put_object(
        Bucket=src,
        Key="in/media/medium.mov",
        Body=medium,
        ContentType="video/quicktime",
        Metadata={"project": "alpha"},
        Tagging="team=post&stage=raw",
    )
    s3.put_object(Bucket=src, Key="in/media/huge.mxf", Body=b"old version")
    s3.put_object(Bucket=src, Key="in/media/huge.mxf", Body=huge, ContentType="application/mxf", Metadata={"k": "v"})
    s3.put_object(Bucket=src, Key="in/small.json", Body=b"{}", ContentType="application/json", Metadata={"a": "b"})
    conf = {
        "source_bucket": src,
        "source_prefix": "in/",
        "destination_bucket": dst,
        "destination_prefix": "copied",
        "multipart_threshold": 5 * MiB,
        # 12 MiB > 8 MiB: its parts are spread over payloads and completed by one step;
        # the 6 MiB object is a multipart copy inside one task
        "max_payload_bytes": 8 * MiB,
    }
    result = run_dag("s3_bulk_copy", conf)
    assert result.state == "success", result.task_states
    assert len(result.task_states["copy"]) >= 3
    tasks = result.only_xcom("merge_plan")
    assert result.labels["copy"] == [
        f"payload {p['index']}: {p['objects']} objects, {p['bytes'] / 1024**3:.2f} GiB" for p in tasks
    ]

    n = len(ODD_KEYS) + 3
    for key, body in ODD_KEYS.items():
        dest = "copied/" + key.removeprefix("in/")
        assert s3.get_object(Bucket=dst, Key=dest)["Body"].read() == body, dest
    assert s3.get_object(Bucket=dst, Key="copied/media/huge.mxf")["Body"].read() == huge
    got = s3.get_object(Bucket=dst, Key="copied/media/medium.mov")
    assert got["Body"].read() == medium
    assert got["ContentType"] == "video/quicktime"
    assert got["Metadata"] == {"project": "alpha"}
    assert got["ETag"].strip('"').endswith("-2")  # two 5 MiB-or-more parts
    tags = s3.get_object_tagging(Bucket=dst, Key="copied/media/medium.mov")["TagSet"]
    assert {(t["Key"], t["Value"]) for t in tags} == {("team", "post"), ("stage", "raw")}
    small = s3.head_object(Bucket=dst, Key="copied/small.json")
    assert (small["ContentType"], small["Metadata"]) == ("application/json", {"a": "b"})
    assert s3.head_object(Bucket=dst, Key="copied/media/huge.mxf")["ContentType"] == "application/mxf"
    assert len(_keys(s3, dst, "copied/")) == n
    assert s3.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    assert s3.head_object(Bucket=src, Key="in/small.json")  # sources untouched

    summary = _summary(s3, dst, result.run_id)
    assert (summary["objects"], summary["copied"], summary["failed"], summary["skipped"]) == (n, n, 0, 0)
    assert summary["bytes"] == sum(map(len, ODD_KEYS.values())) + len(medium) + len(huge) + 2
    rows = _report(s3, summary)
    assert len(rows) == n
    assert {unquote_plus(r[1]) for r in rows} == {
        *ODD_KEYS,
        "in/media/medium.mov",
        "in/media/huge.mxf",
        "in/small.json",
    }
    assert {r[3] for r in rows} == {"succeeded"}
    # single-part sources: by the MD5 S3 computed for the copy; the multipart copies (the spread one
    # too) by the CRC32 botocore stored with the sources
    assert summary["verified"] == {"checksum:CRC32": 2, "etag": n - 2}, summary
    assert {r[6].rpartition("; verified by ")[2] for r in rows if "/media/" in r[1]} == {"checksum:CRC32"}
    assert summary["aborted_uploads"] == []

    again = run_dag("s3_bulk_copy", conf)
    assert again.state == "success", again.task_states
    assert again.task_states["copy"] == ["skipped"]  # the plan found everything in place: no payloads
    summary = _summary(s3, dst, again.run_id)
    assert (summary["copied"], summary["skipped"], summary["failed"]) == (0, n, 0)
    assert s3.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []


def test_routes_by_type_and_reports_unrouted(airflow_db, local_stack, s3, make_bucket):
    src, videos, images = make_bucket("src"), make_bucket("vid"), make_bucket("img")
    _put_many(s3, src, {"shoot/a.MP4": b"v1", "shoot/b.mov": b"v2", "shoot/c.jpg": b"i1", "shoot/notes.txt": b"t"})
    conf = {
        "source_bucket": src,
        "source_prefix": "shoot/",
        "routes": [
            {"file_types": ["mp4", ".MOV"], "bucket": videos, "prefix": "video/"},
            {"file_types": ["jpg"], "bucket": images, "prefix": "stills"},
        ],
        "report_bucket": src,
    }
    result = run_dag("s3_bulk_copy", conf)
    assert result.state == "success", result.task_states
    assert sorted(_keys(s3, videos)) == ["video/a.MP4", "video/b.mov"]
    assert _keys(s3, images) == ["stills/c.jpg"]
    summary = _summary(s3, src, result.run_id)
    assert (summary["copied"], summary["skipped"], summary["failed"]) == (3, 1, 0)
    unrouted = [r for r in _report(s3, summary) if r[1] == "shoot/notes.txt"]
    assert unrouted[0][3] == "succeeded"
    assert "matches no route" in unrouted[0][6]


def test_pagination_and_mapping_limit(airflow_db, local_stack, s3, make_bucket, bulk_source, monkeypatch):
    """2,600 keys in payloads of at most 100 would be 26 tasks; with a mapping limit of 8 the
    planner grows the payloads instead."""
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "8")
    dst = make_bucket("dst")
    result = run_dag(
        "s3_bulk_copy",
        {"source_bucket": bulk_source, "destination_bucket": dst, "max_payload_objects": 100, "report_scope": "failed"},
    )
    assert result.state == "success", result.task_states
    assert 1 < len(result.task_states["copy"]) <= 8
    keys = _keys(s3, dst, "many/")
    assert len(keys) == 2600
    assert s3.get_object(Bucket=dst, Key="many/025/obj-02599.dat")["Body"].read() == b"2599"
    summary = _summary(s3, dst, result.run_id)
    assert summary["copied"] == 2600
    assert _report(s3, summary) == []  # scope "failed": nothing failed


def test_csv_manifest_with_a_missing_key(airflow_db, local_stack, s3, make_bucket):
    src, dst = make_bucket("src", versioned=True), make_bucket("dst")
    s3.put_object(Bucket=src, Key="x/first one.txt", Body=b"v1")
    v1 = s3.list_object_versions(Bucket=src, Prefix="x/first one.txt")["Versions"][0]["VersionId"]
    s3.put_object(Bucket=src, Key="x/first one.txt", Body=b"version two")
    s3.put_object(Bucket=src, Key="x/plus+percent%.txt", Body=b"pp")
    rows = [
        f"{src},{quote_plus('x/first one.txt', safe='/')},{v1}",
        f"{src},{quote_plus('x/plus+percent%.txt', safe='/')}",
        f"{src},{quote_plus('x/not there.txt', safe='/')}",
    ]
    s3.put_object(Bucket=src, Key="manifests/m.csv", Body=("\n".join(rows) + "\n").encode())
    result = run_dag(
        "s3_bulk_copy",
        {"manifest_uri": f"s3://{src}/manifests/m.csv", "destination_bucket": dst, "source_prefix": "x/"},
    )
    assert result.state == "failed"
    assert result.task_states["report"] == ["failed"]
    assert result.task_states["copy"] == ["success"]
    assert s3.get_object(Bucket=dst, Key="first one.txt")["Body"].read() == b"v1"  # the named version
    assert s3.get_object(Bucket=dst, Key="plus+percent%.txt")["Body"].read() == b"pp"
    summary = _summary(s3, dst, result.run_id)
    assert (summary["copied"], summary["failed"]) == (2, 1)
    failed = [r for r in _report(s3, summary) if r[3] == "failed"]
    assert [(unquote_plus(r[1]), r[4]) for r in failed] == [("x/not there.txt", "NoSuchKey")]
    assert "does not exist" in failed[0][6]


def test_inventory_manifest_json_source(airflow_db, local_stack, s3, make_bucket):
    src, dst, inv = make_bucket("src"), make_bucket("dst"), make_bucket("inv")
    objects = {"lib/a.wav": b"aaaa", "lib/b c.wav": b"bb", "lib/gone.wav": b"deleted"}
    _put_many(s3, src, objects)
    lines = io.StringIO()
    writer = csv.writer(lines)
    for key, body in objects.items():
        etag = s3.head_object(Bucket=src, Key=key)["ETag"].strip('"')
        latest = "false" if key == "lib/gone.wav" else "true"  # a non-current version...
        row = [src, quote_plus(key, safe="/"), "", latest, "false", len(body), "2024-01-01T00:00:00.000Z", etag]
        writer.writerow([*row, "STANDARD"])
    writer.writerow([src, "lib/gone.wav", "", "true", "true", "", "", "", ""])  # ...under a delete marker
    s3.put_object(Bucket=inv, Key="inventory/data/part-1.csv.gz", Body=gzip.compress(lines.getvalue().encode()))
    manifest = {
        "sourceBucket": src,
        "destinationBucket": f"arn:aws:s3:::{inv}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass",
        "files": [{"key": "inventory/data/part-1.csv.gz", "size": 1, "MD5checksum": "x"}],
    }
    s3.put_object(Bucket=inv, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
    result = run_dag("s3_bulk_copy", {"manifest_uri": f"s3://{inv}/inventory/manifest.json", "destination_bucket": dst})
    assert result.state == "success", result.task_states
    assert sorted(_keys(s3, dst, "lib/")) == ["lib/a.wav", "lib/b c.wav"]


def test_archived_objects_are_reported_not_copied(airflow_db, local_stack, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    s3.put_object(Bucket=src, Key="cold.bin", Body=b"cold", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=src, Key="warm.bin", Body=b"warm")
    result = run_dag("s3_bulk_copy", {"source_bucket": src, "destination_bucket": dst})
    assert result.state == "failed"
    assert _keys(s3, dst, "warm") == ["warm.bin"]
    assert _keys(s3, dst, "cold") == []
    summary = _summary(s3, dst, result.run_id)
    cold = [r for r in _report(s3, summary) if r[1] == "cold.bin"][0]
    assert (cold[3], cold[4]) == ("failed", "InvalidObjectState")
    assert "not restored" in cold[6]


def test_dry_run_copies_nothing(airflow_db, local_stack, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    _put_many(s3, src, {"a.txt": b"a", "b/c.txt": b"cc", "big.bin": _blob(11 * MiB, 3)})
    result = run_dag(
        "s3_bulk_copy",
        {
            "source_bucket": src,
            "destination_bucket": dst,
            "dry_run": True,
            "multipart_threshold": 5 * MiB,
            "max_payload_bytes": 6 * MiB,
        },
    )
    assert result.state == "success", result.task_states
    assert result.task_states["copy"] == ["skipped"]
    assert _keys(s3, dst, "a") == [] and _keys(s3, dst, "b") == [] and _keys(s3, dst, "big") == []
    assert s3.list_multipart_uploads(Bucket=dst).get("Uploads", []) == []
    summary = _summary(s3, dst, result.run_id)
    assert (summary["planned"], summary["copied"], summary["planned_bytes"]) == (3, 0, 1 + 2 + 11 * MiB)
    assert {r[3] for r in _report(s3, summary)} == {"planned"}


def test_bad_conf_is_refused_before_any_task(airflow_db, local_stack):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    from mediaflow.s3copy.contract import PARAMS

    for bad in (
        {"source_bucket": "Bad_Bucket"},
        {"min_size": -1},
        {"report_scope": "some"},
        {"storage_class": "COLD"},
        {"routes": [{"file_types": ["mp4"]}]},
    ):
        with pytest.raises(ParamValidationError, match=next(iter(bad))):
            _validated(ParamsDict(dict(PARAMS)), bad)
    _validated(ParamsDict(dict(PARAMS)), {"source_bucket": "fine-bucket", "destination_bucket": "other.bucket-2"})


def test_clearing_a_copy_task_never_runs_the_planning_again():
    """`planned` is the setup that makes the tasks after a failed planning upstream_failed; being
    a setup, it is cleared with any task after it. The planning itself must not be: planning
    again would abort the spread uploads the other copy tasks wrote parts to."""
    from tests.helpers import load_dag

    dag = load_dag("s3_bulk_copy")
    planning = ("split", "plan", "merge_plan")
    assert dag.get_task("planned").is_setup and not any(dag.get_task(t).is_setup for t in planning)
    for task_id in ("copy", "complete_uploads", "report"):
        cleared = dag.partial_subset(task_ids=[task_id], include_downstream=True, include_upstream=False)
        assert not set(planning) & set(cleared.task_dict), task_id
        assert "planned" in cleared.task_dict, task_id


def _validated(params, conf: dict) -> dict:
    params = copy.deepcopy(params)  # the contract's Param objects are shared with the DAG
    for key, value in conf.items():
        params[key] = value
    return params.validate()


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"min_size": 10, "max_size": 5}, "min_size (10) is larger than max_size (5)"),
        (
            {"source_bucket": None},
            "nothing to copy: set source_bucket (to copy what is listed under source_prefix) or manifest_uri",
        ),
    ],
    ids=["min-above-max", "no-source"],
)
def test_bad_conf_fails_the_first_task_at_its_first_try(airflow_db, local_stack, s3, make_bucket, capfd, conf, message):
    """Conf the schema cannot refuse on its own (two keys that contradict each other, or no
    source at all) fails the first task (`split`) at once, with retries on, and says what to fix."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    src, dst = make_bucket("src"), make_bucket("dst")
    s3.put_object(Bucket=src, Key="a.txt", Body=b"a")
    result = run_dag("s3_bulk_copy", {"source_bucket": src, "destination_bucket": dst, **conf}, keep_retries=True)
    assert result.state == "failed"
    assert result.task_states["split"] == ["failed"]
    # nothing after the split fails with an error of its own, and the run still fails
    assert {task: states for task, states in result.task_states.items() if task != "split"} == {
        "plan": ["upstream_failed"],
        "merge_plan": ["upstream_failed"],
        "planned": ["upstream_failed"],
        "copy": ["upstream_failed"],
        "complete_uploads": ["upstream_failed"],
        "report": ["upstream_failed"],
    }
    with create_session() as session:
        query = session.query(TaskInstance).filter_by(dag_id="s3_bulk_copy", run_id=result.run_id, task_id="split")
        split = query.one()
        assert (split.try_number, split.max_tries) == (1, 2)  # retries were on, and none was used
    assert message in capfd.readouterr().out
    assert _keys(s3, dst) == []
