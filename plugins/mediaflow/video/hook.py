"""Run ffprobe and ffmpeg on local files or S3 objects (through presigned URLs).

Connection-aware only for presigning: `aws_conn_id` signs the GET so ffmpeg reads the object
over HTTPS without a full download, and no credentials reach the ffmpeg process. A presigned URL
is a secret for its lifetime, so it is replaced by `s3://bucket/key` in every log line and error.

Used by the segmenting pipeline and by the MediaConvert pipeline (`probe_s3` to learn whether
an input has audio before asking for audio outputs).
"""

from __future__ import annotations

import collections
import json
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

import ffmpeg as ffmpeg_python
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseHook

from mediaflow.video.commands import RW_TIMEOUT_US, ProgressParser, is_url, redact
from mediaflow.video.probe import (
    MediaInfo,
    NotMediaError,
    ProbeError,
    is_not_media,
    last_frame_end,
    locate_end,
    parse_probe,
    require_complete,
    tail_start,
)


class FfmpegError(RuntimeError):
    """ffmpeg exited non-zero; the message carries the (redacted) tail of its stderr."""


class FfmpegHook(BaseHook):
    """Thin wrapper over the `ffprobe`/`ffmpeg` binaries with progress logging."""

    conn_name_attr = "aws_conn_id"
    default_conn_name = "aws_default"
    hook_name = "ffmpeg"

    def __init__(
        self,
        aws_conn_id: str | None = "aws_default",
        *,
        ffmpeg_bin: str = "ffmpeg",
        ffprobe_bin: str = "ffprobe",
        progress_interval: float = 5.0,
        url_expires_in: int = 6 * 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.ffmpeg_bin = ffmpeg_bin
        self.ffprobe_bin = ffprobe_bin
        self.progress_interval = progress_interval
        self.url_expires_in = url_expires_in

    def get_conn(self) -> S3Hook:
        return S3Hook(aws_conn_id=self.aws_conn_id)

    # -- inputs -----------------------------------------------------------------------------
    def presigned_url(self, bucket: str, key: str) -> str:
        """A GET URL ffmpeg can read; valid long enough for a long encode to finish reading."""
        return self.get_conn().generate_presigned_url(
            client_method="get_object", params={"Bucket": bucket, "Key": key}, expires_in=self.url_expires_in
        )

    # -- probe ------------------------------------------------------------------------------
    def probe_raw(self, source: str, *, label: str | None = None) -> dict[str, Any]:
        """ffprobe's JSON (`-show_format -show_streams`) for a path or URL."""
        label = label or source
        options: dict[str, Any] = {"v": "error"}
        if is_url(source):
            options["rw_timeout"] = RW_TIMEOUT_US
        try:
            return ffmpeg_python.probe(source, cmd=self.ffprobe_bin, **options)
        except ffmpeg_python.Error as exc:
            detail = redact((exc.stderr or b"").decode(errors="replace"), [source], label).strip()
            not_media = is_not_media(detail)
            detail = detail.splitlines()[-1] if detail else "no detail from ffprobe"
            raise (NotMediaError if not_media else ProbeError)(
                f"ffprobe cannot read {label}: {detail}. Check that the upload finished and that the file "
                "is a video in a container ffmpeg knows (mp4, mov, mkv, ...); re-upload it if it is truncated."
            ) from None
        except json.JSONDecodeError:
            raise ProbeError(f"ffprobe returned unreadable output for {label}") from None

    def probe(self, source: str, *, label: str | None = None) -> MediaInfo:
        """`MediaInfo` of a path or URL; `ProbeError` naming `label` when it is not readable media."""
        label = label or source
        try:
            return parse_probe(self.probe_raw(source, label=label))
        except ProbeError as exc:
            if label in str(exc):
                raise
            raise ProbeError(f"{label}: {exc}") from None

    def decoded_end(self, source: str, *, since: float, label: str, length: float | None = None) -> float | None:
        """End (seconds) of the last video frame that decodes from `since` on (for `length`
        seconds, else to the end); None if none does. ffprobe seeks, so only that span is read."""
        # an absolute end: ffprobe measures "+length" from the keyframe its seek lands on
        interval = f"{since:.3f}%" + (f"{since + length:.3f}" if length is not None else "")
        cmd = [self.ffprobe_bin, "-v", "error"]
        if is_url(source):
            cmd += ["-rw_timeout", str(RW_TIMEOUT_US)]
        cmd += ["-select_streams", "v:0", "-read_intervals", interval]
        cmd += ["-show_entries", "frame=best_effort_timestamp_time,duration_time,pkt_duration_time", "-of", "json"]
        proc = subprocess.run([*cmd, source], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
        if proc.returncode != 0:
            detail = redact(proc.stderr, [source], label).strip() or "no output on stderr"
            # not an input verdict: the read itself failed (network, timeout), so a retry may pass
            raise FfmpegError(f"ffprobe could not read the end of {label} (exit code {proc.returncode}): {detail}")
        try:
            return last_frame_end(json.loads(proc.stdout or "{}"))
        except json.JSONDecodeError:
            raise FfmpegError(f"ffprobe returned unreadable output for the end of {label}") from None

    def check_complete(self, source: str, info: MediaInfo, *, label: str, size: int | None = None) -> None:
        """Refuse (`IncompleteMediaError`) a video whose frames stop short of the end its container
        declares, e.g. a +faststart MP4 cut in half: its index still promises every frame.

        Cheap whatever the length: ffprobe seeks to a few seconds before the declared end and
        decodes only from the keyframe there on, reading a few seconds of the object (by HTTP
        range over a presigned URL). Counting every packet (`-count_packets`) or decoding
        everything would read the whole object, which for a long master means gigabytes before
        the first segment is cut. A missing end is what a cut-short upload or copy leaves. Only
        when the end is missing does a bisection of such short reads find where the frames stop,
        for the message; the frame shortfall is reported from the frame rate.
        """
        if info.declared_end is None:
            return
        start = tail_start(info)
        end = self.decoded_end(source, since=start, label=label)
        if end is None and start > 0:
            end = locate_end(
                lambda at, length: self.decoded_end(source, since=at, length=length, label=label), upper=start
            )
        require_complete(info, end, label, size)

    def probe_s3(self, bucket: str, key: str) -> MediaInfo:
        """Probe an S3 object in place (ffprobe reads only the headers it needs over HTTP)."""
        return self.probe(self.presigned_url(bucket, key), label=f"s3://{bucket}/{key}")

    # -- run --------------------------------------------------------------------------------
    def run(
        self,
        cmd: Sequence[str],
        *,
        label: str,
        duration: float | None = None,
        secrets: Sequence[str] = (),
        timeout: float | None = None,
    ) -> None:
        """Run an ffmpeg command built with `-progress pipe:1`, logging progress every few seconds.

        Raises `FfmpegError` with the last lines of stderr (secrets replaced by `label`).
        """
        shown = [redact(part, secrets, label) for part in cmd]
        self.log.info("running: %s", " ".join(shown))
        proc = subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        tail: collections.deque[str] = collections.deque(maxlen=40)
        drain = threading.Thread(target=lambda: tail.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        drain.start()
        parser = ProgressParser()
        started = last = time.monotonic()
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                progress = parser.feed(line)
                now = time.monotonic()
                if progress and (progress.done or now - last >= self.progress_interval):
                    last = now
                    self.log.info("ffmpeg %s: %s", label, progress.describe(duration))
                if timeout is not None and now - started > timeout:
                    raise FfmpegError(f"ffmpeg on {label} ran longer than {timeout:.0f}s and was stopped")
            returncode = proc.wait(timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            drain.join(timeout=5)
        if returncode != 0:
            detail = redact("".join(tail), secrets, label).strip() or "no output on stderr"
            raise FfmpegError(f"ffmpeg failed on {label} (exit code {returncode}): {detail}")
