"""Where the videos of a run come from: one key, a prefix, or S3 upload events through an asset watcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from mediaflow.common.errors import InputError
from mediaflow.common.hooks import aws_client
from mediaflow.common.tasks import fail_fast, max_map_length
from mediaflow.common.upload_events import uploaded_objects
from mediaflow.video.segmenting import is_video_key, validate_template


class ResolveVideosOperator(BaseOperator):
    """Return `[{"bucket", "key"}, ...]` for the segmenting tasks to map over.

    Conf names one object (`bucket` + `key`) or a batch (`bucket` + `prefix`). A run started by
    the S3 upload asset watcher has no conf; its objects come from the triggering asset events
    (keys URL-decoded; `s3:TestEvent` and non-ObjectCreated records ignored). The list is small
    by construction, so it fits XCom and the mapping limit.

    :param bucket: bucket of the video(s); None in a run started by an upload event
    :param key: one video to segment
    :param prefix: segment every video below this prefix instead
    :param output_key_prefix: the segments' key template, checked here before any task maps
    :param aws_conn_id: the AWS connection
    :param max_videos: most videos one run takes (default: `[core] max_map_length`)
    """

    template_fields: Sequence[str] = ("bucket", "key", "prefix", "output_key_prefix", "aws_conn_id")

    def __init__(
        self,
        *,
        bucket: str | None,
        key: str | None = None,
        prefix: str | None = None,
        output_key_prefix: str | None = None,
        aws_conn_id: str | None = "aws_default",
        max_videos: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key
        self.prefix = prefix
        self.output_key_prefix = output_key_prefix
        self.aws_conn_id = aws_conn_id
        self.max_videos = max_videos

    @fail_fast()
    def execute(self, context: Context) -> list[dict[str, str]]:
        if self.output_key_prefix:
            validate_template(self.output_key_prefix)
        from_events = uploaded_objects(context)
        if from_events is not None:
            videos = [v for v in from_events if is_video_key(v["key"])]
            self.log.info("upload events name %d object(s), %d of them video(s)", len(from_events), len(videos))
            return videos
        if not self.bucket:
            raise InputError(
                "video_segment_index needs `bucket` with `key` (one video) or `prefix` (every video under it)."
            )
        if self.key and self.prefix is not None:
            raise InputError("give either `key` or `prefix`, not both")
        if self.key:
            return [{"bucket": self.bucket, "key": self.key}]
        if self.prefix is None:
            raise InputError(f"bucket {self.bucket!r} given without `key` or `prefix`: name one video or a prefix.")
        return self._list_prefix(self.bucket, self.prefix)

    def _list_prefix(self, bucket: str, prefix: str) -> list[dict[str, str]]:
        client = aws_client("s3", self.aws_conn_id)
        videos: list[dict[str, str]] = []
        limit = self.max_videos or max_map_length()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if not is_video_key(obj["Key"]):
                    continue
                videos.append({"bucket": bucket, "key": obj["Key"]})
                if len(videos) > limit:
                    raise InputError(
                        f"s3://{bucket}/{prefix} holds more than {limit} videos, the most one run maps "
                        "over. Start one run per narrower prefix (e.g. per folder)."
                    )
        self.log.info("%d video(s) under s3://%s/%s", len(videos), bucket, prefix)
        return videos
