"""ffmpeg command lines and `-progress` parsing, kept pure so they are tested without running ffmpeg."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from mediaflow.common.errors import InputError

#: input option: give up on a stalled HTTP read instead of hanging the worker (microseconds)
RW_TIMEOUT_US = 60_000_000


def redact(text: str, secrets: Iterable[str], label: str = "<input>") -> str:
    """Replace each secret (a presigned URL carries a signature) by `label` before logging."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, label)
    return text


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def input_args(source: str) -> list[str]:
    """`-i source`, with a read timeout and reconnects when ffmpeg reads over HTTP."""
    if is_url(source):
        return ["-rw_timeout", str(RW_TIMEOUT_US), "-reconnect", "1", "-reconnect_on_network_error", "1", "-i", source]
    return ["-i", source]


def base_args(ffmpeg: str = "ffmpeg") -> list[str]:
    """Quiet stderr (errors only), machine-readable progress on stdout, never read stdin."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats", "-progress", "pipe:1"]


@dataclass
class FfmpegProgress:
    """One `-progress` block: ffmpeg prints `key=value` lines and ends each block with `progress=`."""

    out_time_s: float = 0.0
    speed: str | None = None
    frame: int | None = None
    done: bool = False

    def percent(self, duration: float | None) -> float | None:
        if not duration or duration <= 0:
            return None
        return max(0.0, min(100.0, 100.0 * self.out_time_s / duration))

    def describe(self, duration: float | None) -> str:
        pct = self.percent(duration)
        parts = [f"{self.out_time_s:.1f}s"]
        if duration:
            parts[0] += f" of {duration:.1f}s"
        if pct is not None:
            parts.append(f"{pct:.0f}%")
        if self.frame is not None:
            parts.append(f"frame {self.frame}")
        if self.speed:
            parts.append(f"speed {self.speed}")
        return ", ".join(parts)


@dataclass
class ProgressParser:
    """Feed stdout lines of `ffmpeg -progress pipe:1`; `feed` returns a `FfmpegProgress` at each block end."""

    _current: FfmpegProgress = field(default_factory=FfmpegProgress)

    def feed(self, line: str) -> FfmpegProgress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        value = value.strip()
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds in ffmpeg 5
            try:
                micros = int(value)
            except ValueError:
                micros = -1
            if micros >= 0:
                self._current.out_time_s = micros / 1_000_000
        elif key == "frame":
            try:
                self._current.frame = int(value)
            except ValueError:
                pass
        elif key == "speed":
            self._current.speed = None if value in ("", "N/A") else value
        elif key == "progress":
            block = self._current
            block.done = value == "end"
            self._current = FfmpegProgress(out_time_s=block.out_time_s, frame=block.frame, speed=block.speed)
            return block
        return None


def keyframe_expr(seconds: int) -> str:
    """A keyframe exactly at every multiple of `seconds`, so segment cuts land on the boundary."""
    return f"expr:gte(t,n_forced*{seconds})"


def exact_codecs(segment_format: str) -> tuple[list[str], list[str]]:
    """Video and audio encoder options that the output container accepts."""
    if segment_format == "webm":
        return ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-crf", "32", "-b:v", "0"], [
            "-c:a",
            "libopus",
        ]
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"], [
        "-c:a",
        "aac",
        "-b:a",
        "128k",
    ]


def segment_command(
    source: str,
    output_pattern: str,
    *,
    seconds: int,
    mode: str,
    segment_format: str,
    has_audio: bool,
    ffmpeg: str = "ffmpeg",
    x264_preset: str | None = None,
) -> list[str]:
    """The segment-muxer command for `copy` (stream copy, cuts on the next keyframe) or `exact`.

    `exact` re-encodes with a keyframe forced at every multiple of `seconds`, so each cut lands on
    the boundary and every segment but the last lasts `seconds` to within one frame.
    """
    if mode not in ("copy", "exact"):
        raise InputError(f"mode must be 'copy' or 'exact', not {mode!r}")
    if seconds < 1:
        raise InputError("segment length must be at least 1 second")
    cmd = base_args(ffmpeg) + input_args(source) + ["-map", "0:v:0"]
    if has_audio:
        cmd += ["-map", "0:a?"]
    if mode == "copy":
        cmd += ["-c", "copy"]
    else:
        video, audio = exact_codecs(segment_format)
        if x264_preset and "-preset" in video:
            video[video.index("-preset") + 1] = x264_preset
        cmd += video + ["-force_key_frames", keyframe_expr(seconds)]
        if has_audio:
            cmd += audio
    cmd += [
        "-f",
        "segment",
        "-segment_time",
        str(seconds),
        "-segment_format",
        segment_format,
        "-reset_timestamps",
        "1",
        "-segment_start_number",
        "0",
        output_pattern,
    ]
    return cmd


def expected_segments(duration: float | None, seconds: int) -> int | None:
    """How many segments a `duration`-second input gives in exact mode (the last may be short)."""
    if not duration:
        return None
    return max(1, math.ceil(round(duration / seconds, 6)))
