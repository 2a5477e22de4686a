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
from mediaflow.video.probe import MediaInfo, ProbeError, parse_probe


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
            detail = detail.splitlines()[-1] if detail else "no detail from ffprobe"
            raise ProbeError(
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
