"""Values keep the type the user gave: strings that look like Python literals ("2024", "12345",
"[1]", "None", "True") stay strings in every DAG, as keys, prefixes and bucket names.

Each DAG runs with dag.test() against moto server over HTTP (and the Frame.io stand-in, real
ffmpeg, the local MediaConvert service); the outcome is read back from S3 and DynamoDB. Before
ParamValue, "2024" reached the operators as the int 2024, "[1]" as a list and "None" as None.
"""

from __future__ import annotations

import secrets

import pytest
import requests

from tests.helpers import make_video, run_dag


def digits_bucket(s3) -> str:
    """A bucket named with digits only (valid in S3, and a Python int literal)."""
    name = str(10**11 + secrets.randbelow(9 * 10**11))
    s3.create_bucket(Bucket=name)
    return name


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_s3_bulk_copy(airflow_db, local_stack, s3, make_bucket):
    src, dst = make_bucket("lit-src"), digits_bucket(s3)
    for name in ("a.txt", "b.txt"):
        s3.put_object(Bucket=src, Key=f"[1]/{name}", Body=name.encode())
    s3.put_object(Bucket=src, Key="other/c.txt", Body=b"c")

    result = run_dag(
        "s3_bulk_copy",
        {
            "source_bucket": src,
            "source_prefix": "[1]",
            "destination_bucket": dst,
            "destination_prefix": "2024",
            "report_prefix": "None",
        },
    )

    assert result.state == "success", result.task_states
    copied = [k for k in keys(s3, dst) if not k.startswith("None/")]
    assert copied == ["2024/a.txt", "2024/b.txt"]
    assert s3.get_object(Bucket=dst, Key="2024/a.txt")["Body"].read() == b"a.txt"
    # the report went under the prefix "None", not under no prefix
    assert any(k.endswith("/summary.json") for k in keys(s3, dst, "None/")), keys(s3, dst)


def test_video_segment_index(airflow_db, local_stack, ffmpeg_bin, s3, tmp_path):
    bucket = digits_bucket(s3)
    video = make_video(tmp_path / "v.mp4", 3.0, width=160, height=120, gop=25)
    s3.upload_file(str(video), bucket, "12345")  # a numeric key with no extension

    result = run_dag(
        "video_segment_index",
        {"bucket": bucket, "key": "12345", "segment_seconds": 2, "output_key_prefix": "None"},
    )

    assert result.state == "success", result.task_states
    assert keys(s3, bucket, "None/") == ["None/12345_0000.mp4", "None/12345_0001.mp4"]
    [indexed] = result.xcoms["segment_and_index"]
    assert (indexed["status"], indexed["source"]) == ("indexed", f"s3://{bucket}/12345")


def test_mediaconvert_transcode(airflow_db, local_stack, ffmpeg_bin, s3, make_bucket, tmp_path):
    src, out = digits_bucket(s3), make_bucket("lit-out")
    s3.upload_file(str(make_video(tmp_path / "v.mp4", 1.0, width=640, height=360, audio=False)), src, "12345")

    result = run_dag("mediaconvert_transcode", {"bucket": src, "key": "12345", "destination": f"s3://{out}/True/"})

    assert result.state == "success", result.task_states
    assert result.only_xcom("transcode")["outputs"] == [f"s3://{out}/True/12345_480p.mp4"]
    assert keys(s3, out) == ["True/12345_480p.mp4"]


def test_frameio_backup(airflow_db, local_stack, s3):
    url = local_stack.frameio_url
    requests.post(f"{url}/_control/reset", timeout=5).raise_for_status()
    tree = [{"type": "file", "name": "take.mov", "size": 1500, "seed": 7}]
    seeded = requests.post(f"{url}/_control/seed", json={"name": "2024", "tree": tree}, timeout=10).json()
    bucket = digits_bucket(s3)

    result = run_dag(
        "frameio_backup",
        {
            "asset_id": seeded["project_id"],
            "asset_type": "project",
            "destination_bucket": bucket,
            "destination_prefix": "True",
        },
    )

    assert result.state == "success", result.task_states
    backed_up = [k for k in keys(s3, bucket) if not k.startswith("_mediaflow/")]
    assert backed_up == ["True/2024/take.mov"]  # {prefix}/{project name}/{name}
    assert s3.head_object(Bucket=bucket, Key="True/2024/take.mov")["ContentLength"] == 1500


def test_mediaflow_healthcheck(airflow_db, local_stack, s3):
    bucket = digits_bucket(s3)
    ddb, sqs = local_stack.boto3_client("dynamodb"), local_stack.boto3_client("sqs")
    if "None" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName="None",
            AttributeDefinitions=[{"AttributeName": "VideoId", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "VideoId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    sqs.create_queue(QueueName="True")

    result = run_dag(
        "mediaflow_healthcheck",
        {"buckets": [bucket], "table_name": "None", "queue_names": ["True"], "check_ffmpeg": False},
    )

    assert result.state == "success", result.task_states
    report = result.only_xcom("check")
    assert report["buckets"] == {bucket: "ok"}
    assert report["table"] == "ACTIVE", "the table named 'None' was checked, not skipped"
    assert report["queues"]["True"].endswith("/True")


@pytest.mark.parametrize("value", ["2024", "12345", "[1]", "None", "True"])
def test_the_param_value_reaches_the_operator_as_the_same_string(value):
    from mediaflow.common.params import ParamValue

    ref = ParamValue("destination_prefix")
    resolved = ref.resolve({"params": {"destination_prefix": value}})
    assert resolved == value and type(resolved) is str
    assert repr(ref) == "{{ params.destination_prefix }}"


def test_an_upload_event_run_takes_its_object_from_the_event_not_the_form_defaults():
    from types import SimpleNamespace

    from mediaflow.common.params import ParamValue

    params = {"bucket": "mediaflow-media", "key": "samples/default.mp4"}
    event_run = {"params": params, "dag_run": SimpleNamespace(run_type="asset_triggered")}
    manual_run = {"params": params, "dag_run": SimpleNamespace(run_type="manual")}
    assert ParamValue("key", in_event_runs=False).resolve(event_run) is None
    assert ParamValue("key", in_event_runs=False).resolve(manual_run) == "samples/default.mp4"
    assert ParamValue("key").resolve(event_run) == "samples/default.mp4"
