"""video_segment_index: split videos into N-second segments, upload them, index them in DynamoDB."""

from __future__ import annotations

import os

from airflow.sdk import DAG

from mediaflow.common.dag_defaults import DEFAULT_ARGS, FFMPEG_POOL
from mediaflow.common.params import ParamValue as P
from mediaflow.common.tasks import refuse_bad_conf
from mediaflow.common.upload_events import upload_asset
from mediaflow.video.contract import PARAMS
from mediaflow.video.operators import VideoSegmentIndexOperator
from mediaflow.video.sources import ResolveVideosOperator

# S3 ObjectCreated -> SQS -> this asset starts a run; unset (no watcher) means conf-only runs
UPLOADS = upload_asset("mediaflow_segment_uploads", os.environ.get("MEDIAFLOW_SEGMENT_QUEUE_URL"))

with DAG(
    dag_id="video_segment_index",
    schedule=[UPLOADS] if UPLOADS else None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    max_active_runs=4,
    tags=["mediaflow", "video", "ffmpeg", "dynamodb"],
    doc_md="""
### video_segment_index
Splits a video into `segment_seconds` pieces with ffmpeg, uploads them to `output_bucket` under
`output_key_prefix` (named `{video_name}_{index:04d}{ext}`, same container as the input) and
writes one DynamoDB item for the video (`process_step: upload`, `sub_videos`) and one per segment
(`process_step: timesplit`, `parent_video`).

* **Start it** with conf `bucket` + `key` (one video) or `bucket` + `prefix` (every video below,
  at most 1024 per run), or by uploading to the watched bucket (S3 event -> SQS -> asset watcher,
  when `MEDIAFLOW_SEGMENT_QUEUE_URL` is set where the DAG is parsed).
* **`copy` mode** cuts on the first keyframe at or after every N seconds (no re-encode, fast);
  **`exact` mode** re-encodes with a keyframe every N seconds so cuts are exact.
* Re-runs are safe: ids derive from bucket, key and ETag; an object already segmented with the
  same settings is skipped unless `force`; an id held by another object fails the task, naming both.
* ffmpeg work runs in the `ffmpeg` pool; the task log shows its progress.
""",
) as dag:
    videos = ResolveVideosOperator(
        task_id="resolve_videos",
        pre_execute=refuse_bad_conf("video_segment_index"),
        # an upload event names the object itself: the form's defaults are for manual runs
        bucket=P("bucket", in_event_runs=False),
        key=P("key", in_event_runs=False),
        prefix=P("prefix", in_event_runs=False),
        output_key_prefix=P("output_key_prefix"),
    )
    VideoSegmentIndexOperator.partial(
        task_id="segment_and_index",
        pool=FFMPEG_POOL,
        segment_seconds=P("segment_seconds"),
        mode=P("mode"),
        output_bucket=P("output_bucket"),
        output_key_prefix=P("output_key_prefix"),
        table_name=P("table_name"),
        force=P("force"),
        map_index_template="{{ task.video['key'] }}",
    ).expand(video=videos.output)
