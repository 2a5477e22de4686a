"""Read ffprobe's JSON into the few facts the media pipelines act on, and judge whether a video
is complete.

Pure: no Airflow, no subprocess. `mediaflow.video.hook.FfmpegHook` runs ffprobe and hands its
JSON here, so the parsing (rotation, frame rate, audio presence, declared length) and the
verdicts (empty, not media, cut short) are unit-tested on plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mediaflow.common.errors import InputError


class ProbeError(InputError):
    """ffprobe could not read the input (corrupt, truncated, not media, or unreachable)."""


class NoVideoStreamError(ProbeError):
    """The input is readable media but carries no video stream (audio-only, subtitles, ...)."""


class NotMediaError(ProbeError):
    """ffprobe read the bytes and they are no media it knows (a text file named .mp4, an MP4
    whose index was never written). Unlike an unreachable URL, reading again cannot help."""


class EmptyMediaError(ProbeError):
    """The object has no bytes at all."""


class IncompleteMediaError(ProbeError):
    """The container declares more video than the file holds: the upload or copy was cut short."""


#: ffprobe's words for bytes that are not (whole) media, as opposed to a URL it could not reach
NOT_MEDIA_MARKERS = (
    "Invalid data found when processing input",
    "moov atom not found",
    "EBML header parsing failed",
)
#: containers that record the video's length in a header or index written apart from the
#: frames, so a file cut short still declares its full length (MPEG-TS and other streams are
#: measured from the data itself: a cut one declares only what it holds)
LENGTH_DECLARING = ("mov", "mp4", "matroska", "webm", "avi")
#: how far before the declared end the completeness check starts decoding
TAIL_SECONDS = 3.0
#: how much shorter than declared a video may decode before it counts as cut short
#: (edit lists, B-frame delay and audio-led containers move the last frame by a few frames)
SHORTFALL_TOLERANCE = 1.0


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
    #: where the container says the video stream ends (seconds), when it records it up front
    declared_end: float | None = None
    #: how many video frames the container declares (mp4, avi), when it does
    declared_frames: int | None = None

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


def is_not_media(detail: str) -> bool:
    """True when ffprobe's error says the bytes are no (whole) media, not that it could not read them."""
    return any(marker in detail for marker in NOT_MEDIA_MARKERS)


def require_bytes(size: int, label: str) -> None:
    """Refuse an empty object before any tool is pointed at it."""
    if size == 0:
        raise EmptyMediaError(
            f"{label} is empty (0 bytes): the upload wrote nothing. Upload the file again; nothing was written."
        )


def _clock(value: Any) -> float | None:
    """Matroska's per-stream DURATION tag, "00:00:20.007000000" -> 20.007."""
    try:
        hours, minutes, seconds = str(value).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (TypeError, ValueError):
        return None


def _declared(fmt: dict[str, Any], video: dict[str, Any], fps: float | None) -> tuple[float | None, int | None]:
    """(declared end of the video stream, declared frame count) for containers that record them."""
    container = str(fmt.get("format_name", ""))
    if not any(name in container.split(",") for name in LENGTH_DECLARING):
        return None, None
    frames = video.get("nb_frames")
    frames = int(frames) if str(frames or "").isdigit() and int(frames) > 0 else None
    start = _float(video.get("start_time")) or 0.0
    ends = []
    duration = _float(video.get("duration"))
    if duration:
        ends.append(start + duration)
    tagged = _clock((video.get("tags") or {}).get("DURATION"))
    if tagged:
        ends.append(tagged)
    if "avi" in container.split(",") and frames and fps:
        # an AVI cut short re-estimates its duration from what is left; its header's frame count does not change
        ends.append(start + frames / fps)
    if not ends:
        whole = _float(fmt.get("duration"))
        if whole:
            ends.append((_float(fmt.get("start_time")) or 0.0) + whole)
    return (round(max(ends), 3) if ends else None), frames


def tail_start(info: MediaInfo) -> float:
    """Where the completeness check starts decoding: a little before the declared end."""
    return max(0.0, (info.declared_end or 0.0) - TAIL_SECONDS)


def locate_end(
    decoded: Callable[[float, float], float | None], upper: float, window: float = TAIL_SECONDS
) -> float | None:
    """Where the frames of a cut-short video really stop, for the error message.

    `decoded(start, length)` is the end of the last frame that decodes up to `start + length`,
    reading from the keyframe before `start` (None when none does); no frame decodes after
    `upper`. Bisects with reads of about `window` seconds each, so finding the cut in a two-hour
    file takes a dozen short reads."""
    best = decoded(0.0, window)
    if best is None:
        return None
    low, high = 0.0, upper
    while high - low > window:
        middle = (low + high) / 2
        end = decoded(middle, window)
        if end is None or end <= middle:
            high = middle
        else:
            low, best = middle, max(best, end)
    last = decoded(low, high - low + window)
    return max(best, last or 0.0)


def last_frame_end(frames_json: dict[str, Any]) -> float | None:
    """End time of the last decoded frame in `ffprobe -show_entries frame=...` JSON."""
    end = None
    for frame in frames_json.get("frames") or []:
        at = _float(frame.get("best_effort_timestamp_time"))
        if at is None:
            continue
        length = _float(frame.get("duration_time")) or _float(frame.get("pkt_duration_time")) or 0.0
        end = max(end or 0.0, at + length)
    return end


def require_complete(info: MediaInfo, decoded_end: float | None, label: str, size: int | None = None) -> None:
    """Refuse a video whose frames stop short of the end its container declares.

    `decoded_end` is the end of the last frame that decodes (None when not one does)."""
    if info.declared_end is None:
        return
    if decoded_end is not None and decoded_end >= info.declared_end - SHORTFALL_TOLERANCE:
        return
    declared = f"{info.declared_end:.2f} s of video"
    if info.declared_frames:
        declared += f" ({info.declared_frames} frames)"
    if decoded_end is None:
        found = "not one frame decodes"
    else:
        found = f"its frames stop at {decoded_end:.2f} s"
        if info.fps and info.declared_frames:
            missing = info.declared_frames - round(decoded_end * info.fps)
            found += f" (about {max(missing, 1)} frames missing)"
    of_size = f" ({size} bytes)" if size is not None else ""
    raise IncompleteMediaError(
        f"{label}{of_size} is incomplete: its container declares {declared} but {found}. "
        "The upload or copy was cut short; upload the complete file again. Nothing was written."
    )


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
    declared_end, declared_frames = _declared(fmt, video, fps)
    return MediaInfo(
        has_video=True,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        video_codec=video.get("codec_name"),
        declared_end=declared_end,
        declared_frames=declared_frames,
        **common,
    )
