"""Read ffprobe's JSON into the few facts the media pipelines act on.

Pure: no Airflow, no subprocess. `mediaflow.video.hook.FfmpegHook.probe` runs ffprobe and hands
its JSON here, so the parsing (rotation, frame rate, audio presence) is unit-tested on plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mediaflow.common.errors import InputError


class ProbeError(InputError):
    """ffprobe could not read the input (corrupt, truncated, not media, or unreachable)."""


class NoVideoStreamError(ProbeError):
    """The input is readable media but carries no video stream (audio-only, subtitles, ...)."""


@dataclass(frozen=True)
class MediaInfo:
    """What a pipeline needs to know about one input, as the viewer sees it.

    `width`/`height` are the *display* size: swapped when a rotation of 90 or 270 degrees is
    recorded, because a phone video stored 1920x1080 with a 90 degree matrix plays portrait.
    """

    container: str
    duration: float | None
    has_video: bool
    width: int | None
    height: int | None
    rotation: int
    fps: float | None
    video_codec: str | None
    audio: bool
    audio_codec: str | None
    bit_rate: int | None = None

    def require_video(self, label: str) -> MediaInfo:
        """Return self, or fail naming `label` when there is nothing to segment or transcode."""
        if not self.has_video:
            found = f"an audio stream ({self.audio_codec})" if self.audio else "no audio or video stream"
            raise NoVideoStreamError(
                f"{label} has no video stream (ffprobe found {found} in a {self.container} container). "
                "Upload a video file, or leave audio-only files out of this pipeline."
            )
        return self


def parse_rate(value: str | None) -> float | None:
    """`"30000/1001"` -> 29.97 (three decimals); `"0/0"`, empty or malformed -> None."""
    if not value:
        return None
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    if rate <= 0:
        return None
    return round(float(rate), 3)


def rotation_of(stream: dict[str, Any]) -> int:
    """Rotation in degrees, normalised to 0, 90, 180 or 270.

    ffmpeg >= 5 reports the display matrix in `side_data_list[].rotation`; older files and tools
    carry a `rotate` tag. Either sign convention gives the same answer for swapping width/height.
    """
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            try:
                return int(round(float(side["rotation"]))) % 360
            except (TypeError, ValueError):
                continue
    tag = (stream.get("tags") or {}).get("rotate")
    if tag is not None:
        try:
            return int(round(float(tag))) % 360
        except (TypeError, ValueError):
            return 0
    return 0


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def parse_probe(data: dict[str, Any]) -> MediaInfo:
    """Turn `ffprobe -show_format -show_streams -of json` output into a `MediaInfo`.

    The first video stream that is not an attached picture (cover art in an mp4/mkv is a
    one-frame "video" stream) decides size, rate and codec.
    """
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    if not streams and not fmt:
        raise ProbeError("ffprobe returned no streams and no container information")
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _float(fmt.get("duration"))
    if duration is None and video is not None:
        duration = _float(video.get("duration"))
    bit_rate = _float(fmt.get("bit_rate"))
    common: dict[str, Any] = {
        "container": fmt.get("format_name", "unknown"),
        "duration": round(duration, 3) if duration is not None else None,
        "audio": audio is not None,
        "audio_codec": audio.get("codec_name") if audio else None,
        "bit_rate": int(bit_rate) if bit_rate is not None else None,
    }
    if video is None:
        return MediaInfo(has_video=False, width=None, height=None, rotation=0, fps=None, video_codec=None, **common)
    rotation = rotation_of(video)
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if rotation in (90, 270):
        width, height = height, width
    fps = parse_rate(video.get("avg_frame_rate")) or parse_rate(video.get("r_frame_rate"))
    return MediaInfo(
        has_video=True,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        video_codec=video.get("codec_name"),
        **common,
    )
