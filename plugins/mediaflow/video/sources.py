"""Where the videos of a run come from: one key, a prefix, or S3 upload events through an asset watcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import Asset, AssetWatcher, BaseOperator

from mediaflow.common.s3_events import OBJECT_CREATED_EVENTS, objects_from_asset_events
from mediaflow.video.segmenting import is_video_key, validate_template

#: Airflow's default `core.max_map_length`: one mapped segmenting task per video
MAX_VIDEOS_PER_RUN = 1024


def upload_asset(name: str, queue_url: str | None, *, aws_conn_id: str = "aws_default") -> Asset | None:
    """An SQS queue of S3 upload notifications as an Asset whose watcher starts a run per batch.

    None when `queue_url` is unset (the DAG then has no event trigger). Only ObjectCreated
    events pass the watcher's filter: S3 answers a new notification configuration with an
    `s3:TestEvent`, which must never start work (the first task ignores it too).
    """
    if not queue_url:
        return None
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    trigger = MessageQueueTrigger(
        scheme="sqs",
        sqs_queue=queue_url,
        aws_conn_id=aws_conn_id,
        max_messages=10,
        wait_time_seconds=10,
        waiter_delay=5,
        message_filtering="jsonpath",
        message_filtering_config="Records[*].eventName",
        message_filtering_match_values=OBJECT_CREATED_EVENTS,
    )
    return Asset(
        name=name,
        uri=f"sqs://{queue_url.split('://', 1)[-1]}",
        watchers=[AssetWatcher(name=f"{name}_watcher", trigger=trigger)],
    )


class ResolveVideosOperator(BaseOperator):
    """Return `[{"bucket", "key"}, ...]` for the segmenting tasks to map over.

    Conf names one object (`bucket` + `key`) or a batch (`bucket` + `prefix`). A run started by
    the S3 upload asset watcher has no conf; its objects come from the triggering asset events
    (keys URL-decoded; `s3:TestEvent` and non-ObjectCreated records ignored). The list is small
    by construction (at most `max_videos`), so it fits XCom and the mapping limit.
    """

    template_fields: Sequence[str] = ("bucket", "key", "prefix", "output_key_prefix")

    def __init__(
        self,
        *,
        bucket: str | None,
        key: str | None = None,
        prefix: str | None = None,
        output_key_prefix: str | None = None,
        aws_conn_id: str | None = "aws_default",
        max_videos: int = MAX_VIDEOS_PER_RUN,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key
        self.prefix = prefix
        self.output_key_prefix = output_key_prefix
        self.aws_conn_id = aws_conn_id
        self.max_videos = max_videos

    def execute(self, context: Any) -> list[dict[str, str]]:
        if self.output_key_prefix:
            validate_template(self.output_key_prefix)
        from_events = self._from_asset_events(context)
        if from_events is not None:
            videos = [v for v in from_events if is_video_key(v["key"])]
            self.log.info("upload events name %d object(s), %d of them video(s)", len(from_events), len(videos))
            return videos
        if not self.bucket:
            raise ValueError(
                "video_segment_index needs `bucket` with `key` (one video) or `prefix` (every video under it)."
            )
        if self.key and self.prefix is not None:
            raise ValueError("give either `key` or `prefix`, not both")
        if self.key:
            return [{"bucket": self.bucket, "key": self.key}]
        if self.prefix is None:
            raise ValueError(f"bucket {self.bucket!r} given without `key` or `prefix`: name one video or a prefix.")
        return self._list_prefix(self.bucket, self.prefix)

    def _from_asset_events(self, context: Any) -> list[dict[str, str]] | None:
        """Objects from the upload events, or None when the run was not started by an asset event."""
        events = context.get("triggering_asset_events") or {}
        extras = [event.extra for batch in events.values() for event in batch]
        if not extras:
            return None
        return objects_from_asset_events(extras)

    def _list_prefix(self, bucket: str, prefix: str) -> list[dict[str, str]]:
        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        videos: list[dict[str, str]] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if not is_video_key(obj["Key"]):
                    continue
                videos.append({"bucket": bucket, "key": obj["Key"]})
                if len(videos) > self.max_videos:
                    raise ValueError(
                        f"s3://{bucket}/{prefix} holds more than {self.max_videos} videos, the most one run maps "
                        "over. Start one run per narrower prefix (e.g. per folder)."
                    )
        self.log.info("%d video(s) under s3://%s/%s", len(videos), bucket, prefix)
        return videos
