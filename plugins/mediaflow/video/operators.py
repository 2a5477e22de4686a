"""Segment one S3 video with ffmpeg, upload the segments and index parent and segments in DynamoDB."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperator, Context
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from mediaflow.common.conf import to_bool
from mediaflow.common.dag_defaults import FFMPEG_POOL
from mediaflow.common.errors import InputError
from mediaflow.common.hooks import aws_client, aws_resource
from mediaflow.common.parts import MIN_PART_SIZE, choose_part_size
from mediaflow.common.s3 import head_object_or_none
from mediaflow.common.tasks import fail_fast
from mediaflow.video.commands import segment_command
from mediaflow.video.hook import FfmpegError, FfmpegHook
from mediaflow.video.index import (
    SegmentRecord,
    iso_now,
    parent_item,
    run_summary,
    segment_item,
    settings_signature,
    video_id,
)
from mediaflow.video.index_table import VideoIndexTable
from mediaflow.video.probe import MediaInfo, ProbeError, require_bytes
from mediaflow.video.segmenting import (
    CONTENT_TYPES,
    SourceName,
    local_pattern,
    output_container,
    render_prefix,
    segment_key,
    segment_name,
)

#: S3 user metadata on every segment: what it was cut from and how (checked before re-segmenting)
META_SEGMENT_OF = "mediaflow-segment-of"
META_SETTINGS = "mediaflow-settings"
META_SOURCE = "mediaflow-source"
GiB = 1024**3


@dataclass
class _Input:
    """Where ffmpeg reads the video from: the presigned URL, or a local copy after a fallback."""

    source: str
    info: MediaInfo
    secrets: tuple[str, ...]
    local: bool


class VideoSegmentIndexOperator(BaseOperator):
    """Probe, segment (`copy` or `exact`), upload in parallel and index one video.

    Idempotent: ids, keys and documents are derived from the object version and the settings, so a
    re-run rewrites the same rows and objects, and a video already segmented with the same
    settings is skipped unless `force`. Nothing is written for a file that is not a readable
    video, or is empty, or is cut short (its frames stop before the end its container declares).
    Runs in the `ffmpeg` pool so CPU-heavy encodes cannot starve other DAGs.

    :param video: `{"bucket", "key"}` of the input (one item of ResolveVideosOperator's list)
    :param segment_seconds: length of each segment
    :param mode: `copy` (cut on keyframes, no re-encode) or `exact` (re-encode, a keyframe every N s)
    :param output_bucket: bucket for the segments (default: the input's)
    :param output_key_prefix: key template of the segments' folder (see `video.segmenting.render_prefix`)
    :param table_name: the DynamoDB video index table
    :param force: segment and index again even when this version was done with the same settings
    :param aws_conn_id: the AWS connection (S3, DynamoDB, and presigned URLs for ffmpeg)
    :param read_via_url: let ffmpeg read the input through a presigned URL (else download it first)
    :param work_dir: where segments are written before upload (default: the system temp folder)
    :param max_work_bytes: refuse inputs needing more local space than this
    :param upload_concurrency: segments uploaded at once
    :param multipart_threshold: segments above this size are uploaded in parts
    :param x264_preset: libx264 preset for `exact` mode (default: ffmpeg's)
    :param progress_interval: seconds between ffmpeg progress lines in the log
    """

    template_fields: Sequence[str] = (
        "video",
        "segment_seconds",
        "mode",
        "output_bucket",
        "output_key_prefix",
        "table_name",
        "force",
        "aws_conn_id",
    )
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        video: dict[str, str],
        segment_seconds: int | str = 30,
        mode: str = "copy",
        output_bucket: str | None = None,
        output_key_prefix: str = "project/{video_name}/split",
        table_name: str = "mediaflow-videos",
        force: bool | str = False,
        aws_conn_id: str | None = "aws_default",
        read_via_url: bool = True,
        work_dir: str | None = None,
        max_work_bytes: int = 50 * GiB,
        upload_concurrency: int = 8,
        multipart_threshold: int = 64 * 1024**2,
        x264_preset: str | None = None,
        progress_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("pool", FFMPEG_POOL)
        super().__init__(**kwargs)
        self.video = video
        self.segment_seconds = segment_seconds
        self.mode = mode
        self.output_bucket = output_bucket
        self.output_key_prefix = output_key_prefix
        self.table_name = table_name
        self.force = force
        self.aws_conn_id = aws_conn_id
        self.read_via_url = read_via_url
        self.work_dir = work_dir
        self.max_work_bytes = max_work_bytes
        self.upload_concurrency = upload_concurrency
        self.multipart_threshold = multipart_threshold
        self.x264_preset = x264_preset
        self.progress_interval = progress_interval

    # -- orchestration ----------------------------------------------------------------------
    @fail_fast()
    def execute(self, context: Context) -> dict[str, Any]:
        result = self._process()
        self.log.info("\n".join(run_summary(result, self.table_name, int(self.segment_seconds))))
        return result

    def _process(self) -> dict[str, Any]:
        bucket, key = self.video["bucket"], self.video["key"]
        label = f"s3://{bucket}/{key}"
        seconds, force = int(self.segment_seconds), to_bool(self.force, False)
        s3 = aws_client("s3", self.aws_conn_id, max_pool_connections=self.upload_concurrency * 4 + 4)
        head = self._head(s3, bucket, key, label)
        if META_SEGMENT_OF in head.get("Metadata", {}):
            self.log.info("%s is a segment written by this pipeline; not segmenting it again", label)
            return {"status": "skipped", "reason": "is a segment", "source": label}
        etag, size = head["ETag"].strip('"'), int(head["ContentLength"])
        require_bytes(size, label)
        name = SourceName.from_key(key)
        out_bucket = self.output_bucket or bucket
        prefix = render_prefix(self.output_key_prefix, name, bucket)
        parent_id = video_id(bucket, key, etag)
        signature = settings_signature(self.mode, seconds)
        index = VideoIndexTable(aws_resource("dynamodb", self.aws_conn_id), self.table_name)
        ffmpeg = FfmpegHook(self.aws_conn_id, progress_interval=self.progress_interval)
        base = {"source": label, "video_id": str(parent_id), "output": f"s3://{out_bucket}/{prefix}/"}

        Path(self.work_dir or tempfile.gettempdir()).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mediaflow-segment-", dir=self.work_dir) as tmp:
            work = Path(tmp)
            source = self._open(ffmpeg, s3, bucket, key, size, work, label)
            source.info.require_video(label)
            ffmpeg.check_complete(source.source, source.info, label=label, size=size)
            ext, muxer = output_container(name.extension, source.info.container)
            keys = lambda n: [segment_key(prefix, name.name, i, ext) for i in range(n)]  # noqa: E731
            if not force and self._already_indexed(index, s3, parent_id, bucket, key, out_bucket, keys, signature):
                self.log.info(
                    "%s was already segmented with %s into %s; set force to redo it", label, signature, prefix
                )
                return {**base, "status": "skipped", "reason": "already processed with the same settings"}
            self._check_space(work, size, label, extra=0)
            files = self._segment(ffmpeg, s3, bucket, key, size, source, work, seconds, muxer, ext, label)
            seg_keys = keys(len(files))
            # one ffprobe per segment, side by side: each is a short process mostly waiting on I/O
            with ThreadPoolExecutor(max_workers=max(1, min(4, len(files)))) as pool:
                infos = list(
                    pool.map(lambda pair: ffmpeg.probe(str(pair[0]), label=pair[1]), zip(files, seg_keys, strict=True))
                )
            records = [
                SegmentRecord(
                    index=i,
                    video_id=video_id(bucket, key, etag, i),
                    bucket=out_bucket,
                    key=seg_key,
                    name=segment_name(name.name, i),
                    extension=ext,
                    info=info,
                )
                for i, (seg_key, info) in enumerate(zip(seg_keys, infos, strict=True))
            ]
            created = iso_now()
            items = [segment_item(r, parent_id, created) for r in records]
            parent = parent_item(
                parent_id, bucket, key, name.name, name.extension, source.info, [r.video_id for r in records], created
            )
            existing = index.check_conflicts([parent, *items])
            metadata = {META_SEGMENT_OF: str(parent_id), META_SETTINGS: signature, META_SOURCE: quote(label)}
            self._upload(s3, records, files, metadata, CONTENT_TYPES.get(muxer, "application/octet-stream"))
            for item in [*items, parent]:  # the parent last: its presence means "complete"
                index.put(item)
            stale = self._drop_stale(index, s3, existing.get(parent_id), parent_id, {r.video_id for r in records})
        self.log.info(
            "%s: %d segment(s) in s3://%s/%s/, indexed as VideoId %s",
            label,
            len(records),
            out_bucket,
            prefix,
            parent_id,
        )
        return {**base, "status": "indexed", "segments": len(records), "mode": self.mode, "stale_removed": stale}

    # -- steps ------------------------------------------------------------------------------
    def _head(self, s3: Any, bucket: str, key: str, label: str) -> dict[str, Any]:
        head = head_object_or_none(s3, bucket, key)
        if head is None:
            raise InputError(
                f"{label} does not exist. Check bucket and key (keys are case-sensitive and not URL-encoded)."
            )
        return head

    def _open(self, ffmpeg: FfmpegHook, s3: Any, bucket: str, key: str, size: int, work: Path, label: str) -> _Input:
        """Probe through a presigned URL; if ffprobe cannot read it that way, download and probe locally."""
        if self.read_via_url:
            url = ffmpeg.presigned_url(bucket, key)
            try:
                return _Input(url, ffmpeg.probe(url, label=label), (url,), local=False)
            except ProbeError as exc:
                self.log.warning("reading %s through a presigned URL failed (%s); downloading it instead", label, exc)
        return self._download(ffmpeg, s3, bucket, key, size, work, label)

    def _download(
        self, ffmpeg: FfmpegHook, s3: Any, bucket: str, key: str, size: int, work: Path, label: str
    ) -> _Input:
        self._check_space(work, size, label, extra=size)
        path = work / ("input" + Path(key).suffix.lower())
        s3.download_file(bucket, key, str(path))
        return _Input(str(path), ffmpeg.probe(str(path), label=label), (), local=True)

    def _check_space(self, work: Path, size: int, label: str, *, extra: int) -> None:
        """Segments take about the input's size again; a download doubles it. Refuse early, clearly."""
        needed = size + extra
        free = shutil.disk_usage(work).free
        limit = min(self.max_work_bytes, free)
        if needed > limit:
            raise OSError(
                f"{label} is {size / GiB:.1f} GiB; segmenting it needs about {needed / GiB:.1f} GiB of local space "
                f"but only {limit / GiB:.1f} GiB is allowed/free in the work directory. Raise max_work_bytes or give "
                "the worker a larger work_dir volume."
            )

    def _segment(
        self,
        ffmpeg: FfmpegHook,
        s3: Any,
        bucket: str,
        key: str,
        size: int,
        source: _Input,
        work: Path,
        seconds: int,
        muxer: str,
        ext: str,
        label: str,
    ) -> list[Path]:
        out_dir = work / "segments"
        for attempt in range(2):
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir()
            cmd = segment_command(
                source.source,
                str(out_dir / local_pattern(ext)),
                seconds=seconds,
                mode=self.mode,
                segment_format=muxer,
                has_audio=source.info.audio,
                x264_preset=self.x264_preset,
            )
            try:
                ffmpeg.run(cmd, label=label, duration=source.info.duration, secrets=source.secrets)
                break
            except FfmpegError as exc:
                if source.local or attempt:
                    raise
                self.log.warning("ffmpeg could not segment %s over HTTP (%s); downloading it first", label, exc)
                source = self._download(ffmpeg, s3, bucket, key, size, work, label)
        files = sorted(out_dir.iterdir())
        if not files:
            raise FfmpegError(f"ffmpeg wrote no segments for {label}")
        return files

    def _upload(
        self, s3: Any, records: list[SegmentRecord], files: list[Path], metadata: dict[str, str], content_type: str
    ) -> None:
        """Upload all segments in parallel; s3transfer aborts a multipart upload that fails."""
        largest = max(p.stat().st_size for p in files)
        config = TransferConfig(
            multipart_threshold=max(self.multipart_threshold, MIN_PART_SIZE),
            multipart_chunksize=choose_part_size(largest),
            max_concurrency=4,
        )
        extra = {"Metadata": metadata, "ContentType": content_type}

        def upload(pair: tuple[SegmentRecord, Path]) -> None:
            record, path = pair
            s3.upload_file(str(path), record.bucket, record.key, ExtraArgs=extra, Config=config)

        with ThreadPoolExecutor(max_workers=max(1, self.upload_concurrency)) as pool:
            list(pool.map(upload, zip(records, files, strict=True)))
        self.log.info("uploaded %d segment(s) to s3://%s/", len(records), records[0].bucket)

    def _already_indexed(
        self,
        index: VideoIndexTable,
        s3: Any,
        parent_id: int,
        bucket: str,
        key: str,
        out_bucket: str,
        keys: Any,
        signature: str,
    ) -> bool:
        """True when the parent, every segment item and every segment object match these settings."""
        parent = index.get(parent_id)
        if not parent:
            return False
        index.check_conflicts([{"VideoId": parent_id, "process_step": "upload", "bucket": bucket, "key": key}])
        subs = [int(s) for s in parent.get("sub_videos") or []]
        expected = dict(zip(subs, keys(len(subs)), strict=True))
        items = index.get_many(subs)
        for vid, seg_key in expected.items():
            item = items.get(vid)
            if not item or item.get("bucket") != out_bucket or item.get("key") != seg_key:
                return False
            try:
                meta = s3.head_object(Bucket=out_bucket, Key=seg_key).get("Metadata", {})
            except ClientError:
                return False
            if meta.get(META_SETTINGS) != signature or meta.get(META_SEGMENT_OF) != str(parent_id):
                return False
        return bool(subs)

    def _drop_stale(
        self, index: VideoIndexTable, s3: Any, previous: dict[str, Any] | None, parent_id: int, current: set[int]
    ) -> int:
        """After a forced re-run with other settings, remove segments of the old run that no longer exist."""
        if not previous:
            return 0
        old = {int(s) for s in previous.get("sub_videos") or []} - current
        if not old:
            return 0
        items = index.get_many(old)
        for vid in old:
            item = items.get(vid)
            if item and item.get("parent_video") == parent_id:
                try:
                    meta = s3.head_object(Bucket=item["bucket"], Key=item["key"]).get("Metadata", {})
                    if meta.get(META_SEGMENT_OF) == str(parent_id):
                        s3.delete_object(Bucket=item["bucket"], Key=item["key"])
                except ClientError:
                    pass
            index.delete_segment(vid, parent_id)
        self.log.info("removed %d segment(s) left by an earlier run with other settings", len(old))
        return len(old)
