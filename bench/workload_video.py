"""W5: segment a 60 s 720p video into 10 s pieces (copy mode), S3 to S3, with the DynamoDB
index; ours (the `video_segment_index` operator's work) against a plain script:
`aws s3 cp` down, `ffmpeg -f segment -c copy`, `aws s3 cp --recursive` up (no index)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from typing import Any

from bench.context import DST, SRC, Context
from bench.core import CheckFailed, Contender, last_json_line, list_sizes, measure, run_tool
from bench.peers import SETTINGS, tool
from bench.servers import start_moto, stop_pid

TABLE = "mediaflow-videos"
LIMIT = 1.5


def make_video(ctx: Context, seconds: int, width: int, height: int) -> Any:
    path = ctx.work / "video" / "source.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg = tool("ffmpeg") or "ffmpeg"
    cmd = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25"]
    cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds)]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)]
    subprocess.run(cmd, check=True)
    return path


def w5(ctx: Context) -> dict[str, Any]:
    seconds, segment, (w, h) = (8, 4, (320, 240)) if ctx.quick else (60, 10, (1280, 720))
    ctx.log(f"W5: making a {seconds} s {w}x{h} video")
    video = make_video(ctx, seconds, w, h)
    key = "w5/source.mp4"
    ctx.s3.upload_file(str(video), SRC, key)
    expected = math.ceil(seconds / segment)
    ddb_endpoint, moto = start_moto(ctx.work / "moto.log")
    try:
        ddb = ctx.server.client("dynamodb", endpoint=ddb_endpoint)
        ddb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "VideoId", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "VideoId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        contenders = _contenders(ctx, key, segment, expected, ddb, ddb_endpoint)
        stats = measure(contenders, ctx.runs, ctx.log)
    finally:
        stop_pid(moto.pid)
        video.unlink(missing_ok=True)
    ours, peer = stats["ours"], stats["plain-script"]
    ratio = ours.median / peer.median
    return {
        "id": "W5",
        "title": f"{seconds} s {h}p video, {segment} s segments, copy mode, S3 to S3 with index",
        "status": "measured",
        "target": f"<= {LIMIT}x the plain script (ratio = ours / script)",
        "target_ratio": LIMIT,
        "ours": ours.to_json(),
        "peers": {"plain-script": peer.to_json()},
        "fastest_peer": "plain-script",
        "ratio": round(ratio, 3),
        "met": bool(ratio <= LIMIT),
        "sizes": {"video_seconds": seconds, "resolution": f"{w}x{h}", "segments": expected},
    }


def _contenders(ctx: Context, key: str, segment: int, expected: int, ddb: Any, ddb_endpoint: str) -> list[Contender]:
    def prefix(tag: str) -> str:
        return f"W5/{tag}/"

    def check_segments(tag: str) -> int:
        got = list_sizes(ctx.s3, DST, prefix(tag))
        if len(got) != expected or not all(got.values()):
            raise CheckFailed(f"s3://{DST}/{prefix(tag)}: {len(got)} segments {got}, expected {expected} non-empty")
        return len(got)

    def check_ours(tag: str) -> int:
        n = check_segments(tag)
        items = ddb.scan(TableName=TABLE, Select="COUNT")["Count"]
        if items != expected + 1:
            raise CheckFailed(f"DynamoDB {TABLE}: {items} items, expected {expected + 1} (video + segments)")
        return n + items

    def clean(tag: str) -> None:
        ctx.clean_dst(prefix(tag))

    def clean_ours(tag: str) -> None:
        clean(tag)
        for page in ddb.get_paginator("scan").paginate(TableName=TABLE, ProjectionExpression="VideoId"):
            for item in page["Items"]:
                ddb.delete_item(TableName=TABLE, Key={"VideoId": item["VideoId"]})

    conn = {
        "conn_type": "aws",
        "login": ctx.server.access_key,
        "password": ctx.server.secret_key,
        "extra": {
            "region_name": "us-east-1",
            "service_config": {
                "s3": {"endpoint_url": ctx.server.endpoint},
                "dynamodb": {"endpoint_url": ddb_endpoint},
            },
        },
    }
    airflow_home = ctx.work / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)

    def ours(tag: str) -> dict[str, Any]:
        env = ctx.ours_env()
        env.update(AIRFLOW_CONN_AWS_DEFAULT=json.dumps(conn), AIRFLOW_HOME=str(airflow_home))
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        work = ctx.work / "video" / tag
        args = ctx.ours("segment", "--bucket", SRC, "--key", key, "--output-bucket", DST)
        args += ["--output-prefix", prefix(tag) + "{video_name}", "--table", TABLE, "--work", str(work)]
        try:
            return last_json_line(run_tool([*args, "--seconds", str(segment)], env))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def script(tag: str) -> None:
        work = ctx.work / "video" / tag
        aws = " ".join(ctx.peers.aws_s3("cp", f"s3://{SRC}/{key}", f"{work}/source.mp4"))
        up = " ".join(ctx.peers.aws_s3("cp", "--recursive", f"{work}/out/", f"s3://{DST}/{prefix(tag)}"))
        ffmpeg = (
            f"{tool('ffmpeg') or 'ffmpeg'} -v error -y -i {work}/source.mp4 -map 0 -c copy -f segment "
            f"-segment_time {segment} -reset_timestamps 1 {work}/out/source_%04d.mp4"
        )
        try:
            run_tool(f"set -e; mkdir -p {work}/out; {aws}; {ffmpeg}; {up}", ctx.peers.aws_env())
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return [
        Contender(
            "ours",
            ours,
            check_ours,
            clean_ours,
            {
                "engine": "VideoSegmentIndexOperator.execute (probe via presigned URL, ffmpeg segment copy, "
                "parallel upload, DynamoDB index) in python -m bench.ours segment; no scheduler",
                "dynamodb": "moto server on loopback; S3 on SeaweedFS",
            },
            is_ours=True,
        ),
        Contender(
            "plain-script",
            script,
            check_segments,
            clean,
            {
                "script": "aws s3 cp down; ffmpeg -map 0 -c copy -f segment -segment_time N -reset_timestamps 1; "
                "aws s3 cp --recursive up",
                **SETTINGS["aws-cli"]["config_file"],
            },
        ),
    ]
