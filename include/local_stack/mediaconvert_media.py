"""Media plumbing for the local MediaConvert engine: ffprobe, timecodes, captions files, and an
ffmpeg runner that reports progress and stops when the job is canceled."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any


class JobError(Exception):
    """A job that ends in ERROR, with MediaConvert's code and wording."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class JobCanceled(Exception):
    pass


# -- probing -------------------------------------------------------------------------------------
@dataclass
class MediaInfo:
    """What the engine needs to know about an input file."""

    path: Path
    duration: float
    width: int = 0
    height: int = 0
    fps: Fraction = Fraction(25)
    sar: Fraction = Fraction(1)
    rotation: int = 0  # clockwise degrees from the display matrix
    interlaced: bool = False
    timecode: str | None = None
    has_video: bool = False
    audio_streams: int = 0
    streams: list[dict[str, Any]] = field(default_factory=list)


def ffprobe(path: Path, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", *extra, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ValueError(out.stderr.strip() or "ffprobe failed")
    return json.loads(out.stdout)


def probe(path: Path) -> MediaInfo:
    data = ffprobe(path)
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _attached_picture(s)), None)
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    info = MediaInfo(path=path, duration=float(data.get("format", {}).get("duration") or 0), streams=streams)
    info.audio_streams = len(audio)
    info.timecode = (data.get("format", {}).get("tags") or {}).get("timecode")
    if video is not None:
        info.has_video = True
        info.width, info.height = int(video["width"]), int(video["height"])
        info.fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")) or Fraction(25)
        info.sar = _rate(video.get("sample_aspect_ratio"), ":") or Fraction(1)
        info.rotation = _rotation(video)
        info.interlaced = video.get("field_order", "progressive") not in ("progressive", "unknown")
        info.timecode = (video.get("tags") or {}).get("timecode") or info.timecode
        if video.get("duration"):
            info.duration = float(video["duration"])
    return info


def _attached_picture(stream: dict[str, Any]) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _rate(text: str | None, sep: str = "/") -> Fraction | None:
    if not text or sep not in text:
        return None
    num, den = text.split(sep, 1)
    try:
        value = Fraction(int(num), int(den))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(-float(side["rotation"])) % 360  # ffprobe reports counter-clockwise
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag else 0


def first_video_time(path: Path) -> float | None:
    """Presentation time of the first video frame of a file, as its container stamps it."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-read_intervals",
         "%+#8", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    times = [float(t.strip(",")) for t in out.split() if t.strip(",") not in ("", "N/A")]
    return min(times) if times else None


def frame_count(path: Path) -> int:
    """Exact number of video frames (packets) in a file."""
    data = ffprobe(path, "-select_streams", "v:0", "-count_packets")
    stream = (data.get("streams") or [{}])[0]
    return int(stream.get("nb_read_packets") or 0)


# -- timecodes -----------------------------------------------------------------------------------
TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})[:;.](\d{2})$")


def timecode_seconds(timecode: str, fps: Fraction) -> float:
    """HH:MM:SS:FF (or ;FF) -> seconds at `fps` (drop-frame counted as its nominal rate)."""
    match = TIMECODE.match(timecode.strip())
    if not match:
        raise ValueError(f"{timecode!r} is not a HH:MM:SS:FF timecode")
    hh, mm, ss, ff = (int(g) for g in match.groups())
    nominal = round(float(fps)) or 25
    frames = ((hh * 60 + mm) * 60 + ss) * nominal + ff
    return float(frames / fps)


# -- captions ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


_CUE_TIME = re.compile(r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})")


def read_captions(path: Path) -> list[Cue]:
    """Cues of an SRT or WebVTT file (styling tags and cue settings dropped)."""
    text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n")
    cues = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        left, _, right = lines[timing].partition("-->")
        start, end = _cue_time(left), _cue_time(right)
        body = "\n".join(re.sub(r"<[^>]+>", "", line) for line in lines[timing + 1 :]).strip()
        if start is not None and end is not None and end > start and body:
            cues.append(Cue(start, end, body))
    return cues


def _cue_time(text: str) -> float | None:
    match = _CUE_TIME.search(text)
    if not match:
        return None
    hh, mm, ss, ms = match.groups()
    return int(hh or 0) * 3600 + int(mm) * 60 + int(ss) + int(ms) / 1000


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    hh, rest = divmod(ms, 3_600_000)
    mm, rest = divmod(rest, 60_000)
    ss, ms = divmod(rest, 1000)
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ms:03d}"


def srt_text(cues: list[Cue]) -> str:
    return "".join(f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n\n" for i, c in enumerate(cues, 1))


def webvtt_text(cues: list[Cue], header: str = "") -> str:
    body = "".join(f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n\n" for c in cues)
    return f"WEBVTT\n{header}\n{body}"


# -- running ffmpeg ------------------------------------------------------------------------------
def run_ffmpeg(
    args: list[str],
    duration: float,
    report: Callable[[float], None],
    cancel: threading.Event,
    what: str,
    cwd: Path | None = None,
) -> None:
    """Run `ffmpeg <args>`; report the fraction done, kill it on cancel, raise JobError on failure."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-nostats", "-y", "-progress", "pipe:1", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    threading.Thread(target=_kill_on_cancel, args=(proc, cancel), daemon=True).start()
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr else ""), daemon=True)
    reader.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("out_time_us=") and duration > 0:
            try:
                report(min(1.0, int(line.split("=", 1)[1]) / 1e6 / duration))
            except ValueError:
                pass
    proc.wait()
    reader.join()
    if cancel.is_set():
        raise JobCanceled()
    if proc.returncode != 0:
        raise JobError(1030, f"Transcoding failed for {what}: [{''.join(errors).strip()[-600:]}]")


def _kill_on_cancel(proc: subprocess.Popen, cancel: threading.Event) -> None:
    while proc.poll() is None:
        if cancel.wait(0.2):
            proc.kill()
            return
