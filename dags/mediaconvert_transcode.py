"""mediaconvert_transcode: renditions of an uploaded video by AWS Elemental MediaConvert."""

from __future__ import annotations

import os

from airflow.sdk import DAG

from mediaflow.common.dag_defaults import DEFAULT_ARGS
from mediaflow.common.params import ParamValue as P
from mediaflow.common.tasks import refuse_bad_conf
from mediaflow.common.upload_events import upload_asset
from mediaflow.mediaconvert.contract import PARAMS
from mediaflow.mediaconvert.operators import MediaConvertCreateJobOperator, TranscodeInputsOperator

UPLOADS = upload_asset("mediaflow_transcode_uploads", os.environ.get("MEDIAFLOW_TRANSCODE_QUEUE_URL"))

with DAG(
    dag_id="mediaconvert_transcode",
    schedule=[UPLOADS] if UPLOADS else None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    max_active_runs=4,
    tags=["mediaflow", "video", "mediaconvert"],
    doc_md="""
### mediaconvert_transcode
Submits one AWS Elemental MediaConvert job per video and waits for it in the triggerer (no
worker slot is held). The default template writes three MP4 renditions (1080p, 720p, 480p,
H.264 QVBR + AAC 48 kHz) to `destination`; `mp4_hls_renditions` adds an HLS ladder.

* **Start it** with conf `bucket` + `key`, or by uploading a video under `uploads/` of the
  watched bucket (S3 event -> SQS -> asset watcher, when `MEDIAFLOW_TRANSCODE_QUEUE_URL` is set
  where the DAG is parsed).
* Renditions taller than the source are left out (never upscaled); a silent input gets no
  audio outputs. A bad template fails before any job exists, naming the field.
* Retries are safe: the request carries a ClientRequestToken derived from the run and input.
  Killing the task (mark failed, clear) cancels its MediaConvert job.
* The task checks every object the job wrote (files, HLS/DASH/CMAF manifests and segments,
  frame captures), logs them, and returns the URIs people open; ERROR/CANCELED fail the task
  with MediaConvert's error code and message. The task's "MediaConvert Job" link opens the
  console (or, on the local stack, the job as the local service reports it).
""",
) as dag:
    inputs = TranscodeInputsOperator(
        task_id="resolve_inputs",
        # an upload event names the object itself: the form's defaults are for manual runs
        bucket=P("bucket", in_event_runs=False),
        key=P("key", in_event_runs=False),
        pre_execute=refuse_bad_conf("mediaconvert_transcode"),
    )
    MediaConvertCreateJobOperator.partial(
        task_id="transcode",
        destination=P("destination"),
        role_arn=P("role_arn"),
        template=P("template"),
        job_template_name=P("job_template_name"),
        mediaconvert_queue=P("queue"),
        deferrable=True,
        waiter_delay=10,
        # the grid shows the input key instead of a bare map index
        map_index_template="{{ task.key }}",
    ).expand_kwargs(inputs.output)
