"""Demo: transcode a short 1080p sample into three MP4 renditions through the local MediaConvert."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from include.local_stack.bootstrap import BUCKETS
from include.local_stack.samples import TRANSCODE_SAMPLE_KEY, sample_video
from include.local_stack.stack import Stack

ORDER = 50
DAG_ID = "mediaconvert_transcode"
SAMPLE_KEY = TRANSCODE_SAMPLE_KEY
DESTINATION = f"s3://{BUCKETS['renditions']}/mediaflow-demo-1080p/"


def prepare(stack: Stack) -> tuple[str, dict]:
    s3 = stack.boto3_client("s3")
    with tempfile.TemporaryDirectory() as tmp:
        s3.upload_file(str(sample_video(Path(tmp) / "sample.mp4", 2, 1920, 1080)), BUCKETS["media"], SAMPLE_KEY)
    return DAG_ID, {"bucket": BUCKETS["media"], "key": SAMPLE_KEY, "destination": DESTINATION}


def summarize(stack: Stack, conf: dict, state: str) -> list[str]:
    mc = stack.boto3_client("mediaconvert")
    input_uri = f"s3://{conf['bucket']}/{conf['key']}"
    jobs = [j for j in mc.list_jobs(MaxResults=20)["Jobs"] if j["Settings"]["Inputs"][0]["FileInput"] == input_uri]
    if not jobs:
        return [f"no MediaConvert job was submitted for {input_uri} (run {state}): see the task log of `transcode`"]
    job = jobs[0]
    lines = [
        f"MediaConvert job {job['Id']}: {job['Status']}"
        + (f" ({job.get('ErrorMessage')})" if job.get("ErrorMessage") else "")
    ]
    bucket, _, prefix = DESTINATION[len("s3://") :].partition("/")
    s3 = stack.boto3_client("s3")
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        if not obj["Key"].endswith(".mp4"):
            continue
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": obj["Key"]}, ExpiresIn=300)
        lines.append(f"s3://{bucket}/{obj['Key']}: {_describe(url)}, {obj['Size'] / 1024:.0f} KiB")
    return lines


def _describe(url: str) -> str:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height:format=duration",
         "-of", "json", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        return "unreadable by ffprobe"
    info = json.loads(out.stdout)
    stream = (info.get("streams") or [{}])[0]
    return f"{stream.get('width')}x{stream.get('height')}, {float(info['format']['duration']):.2f} s"
