"""Input assembly: a job's inputs, clipped, cropped, rotated, overlaid and joined into one timeline.

MediaConvert assembles every output from the same timeline (its "input timeline" turned output
timeline); the local engine writes that timeline once, as a lossless mezzanine (x264 at qp 0, PCM
audio, one audio stream per audio selector the outputs use), and encodes every output from it.
Durations, segment counts and frame captures then all derive from one known duration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from include.local_stack.mediaconvert_media import (
    Cue,
    JobError,
    MediaInfo,
    frame_count,
    probe,
    run_ffmpeg,
    timecode_seconds,
)

AUDIO_RATE = 48000
DEFAULT_SELECTOR = "Audio Selector 1"


@dataclass
class Source:
    """One job input, downloaded: the file, its external audio files, overlays and captions."""

    index: int
    uri: str
    settings: dict[str, Any]
    media: MediaInfo
    externals: dict[str, MediaInfo] = field(default_factory=dict)  # audio selector name -> file
    images: list[tuple[dict[str, Any], Path]] = field(default_factory=list)  # input overlays
    captions: dict[str, list[Cue]] = field(default_factory=dict)  # captions selector name -> cues


@dataclass
class Timeline:
    path: Path
    duration: float
    fps: Fraction
    width: int
    height: int
    sar: Fraction
    interlaced: bool
    has_video: bool
    audio: dict[str, int]  # audio selector name -> audio stream index in the mezzanine
    captions: dict[str, list[Cue]]
    start: float  # the output timeline's first timecode, in seconds (TimecodeConfig)


def used_audio_selectors(settings: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for group in settings.get("OutputGroups") or []:
        for output in group.get("Outputs") or []:
            for desc in output.get("AudioDescriptions") or []:
                name = desc.get("AudioSourceName") or DEFAULT_SELECTOR
                if name not in names:
                    names.append(name)
    return names


def input_timecode_start(source: Source, fps: Fraction) -> float:
    """Where the input's own timeline starts (TimecodeSource), in seconds."""
    mode = source.settings.get("TimecodeSource", "EMBEDDED")
    if mode == "SPECIFIEDSTART":
        return timecode_seconds(source.settings["TimecodeStart"], fps)
    if mode == "EMBEDDED" and source.media.timecode:
        return timecode_seconds(source.media.timecode, fps)
    return 0.0


def clip_ranges(source: Source) -> list[tuple[float, float]]:
    """The input's clips as (start, end) seconds from its first frame; end timecodes are inclusive."""
    media = source.media
    fps = media.fps
    base = input_timecode_start(source, fps)
    clips = source.settings.get("InputClippings") or []
    if not clips:
        return [(0.0, media.duration)]
    ranges = []
    frame = 1 / float(fps)
    for i, clip in enumerate(clips):
        start = timecode_seconds(clip["StartTimecode"], fps) - base if clip.get("StartTimecode") else 0.0
        end = timecode_seconds(clip["EndTimecode"], fps) - base + frame if clip.get("EndTimecode") else media.duration
        end = min(end, media.duration)
        if start < -1e-6 or start >= end:
            raise JobError(
                1401,
                f"Input clip {i + 1} of [{source.uri}] ({clip.get('StartTimecode')} - {clip.get('EndTimecode')}) "
                f"is outside the input, which lasts {media.duration:.3f} s from timecode "
                f"{source.settings.get('TimecodeSource', 'EMBEDDED')} {base:.3f} s",
            )
        ranges.append((max(0.0, start), end))
    return ranges


def build_timeline(
    sources: list[Source],
    settings: dict[str, Any],
    work: Path,
    report: Callable[[float], None],
    cancel: threading.Event,
) -> Timeline:
    selectors = used_audio_selectors(settings)
    first = next((s for s in sources if s.media.has_video), None)
    fps = first.media.fps if first else Fraction(25)
    width, height, sar = _frame(first) if first else (0, 0, Fraction(1))
    builder = _Graph(sources, selectors, fps, width, height, sar)
    duration = builder.assemble()
    path = work / "timeline.mkv"
    args = [*builder.inputs, "-filter_complex_script", str(_write(work / "timeline.graph", builder.graph()))]
    if first:
        args += ["-map", "[vout]", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"]
        if first.media.interlaced and len(sources) == 1:
            tff = _field_order(first.media) != "bff"
            args += ["-flags", "+ildct+ilme", "-x264-params", f"interlaced=1:{'tff' if tff else 'bff'}=1"]
    for i in range(len(selectors)):
        args += ["-map", f"[aout{i}]"]
    if selectors:
        args += ["-c:a", "pcm_s16le"]
    run_ffmpeg([*args, "-f", "matroska", str(path)], duration, report, cancel, "the input timeline")
    duration = frame_count(path) / float(fps) if first else probe(path).duration
    return Timeline(
        path=path,
        duration=duration,
        fps=fps,
        width=width,
        height=height,
        sar=sar,
        interlaced=bool(first and first.media.interlaced and len(sources) == 1),
        has_video=first is not None,
        audio={name: i for i, name in enumerate(selectors)},
        captions=builder.captions,
        start=_output_start(settings, sources, fps),
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _field_order(media: MediaInfo) -> str:
    video = next((s for s in media.streams if s.get("codec_type") == "video"), {})
    return "bff" if video.get("field_order") in ("bb", "bt") else "tff"


def _rotation(source: Source) -> int:
    rotate = (source.settings.get("VideoSelector") or {}).get("Rotate", "DEGREE_0")
    if rotate == "AUTO":
        return source.media.rotation
    return int(rotate.removeprefix("DEGREE_"))


def _frame(source: Source) -> tuple[int, int, Fraction]:
    """The timeline's frame: the first video input's, rotated and cropped."""
    width, height = source.media.width, source.media.height
    if _rotation(source) in (90, 270):
        width, height = height, width
    crop = source.settings.get("Crop") or {}
    if crop:
        width, height = crop.get("Width", width), crop.get("Height", height)
    return width, height, source.media.sar


def _output_start(settings: dict[str, Any], sources: list[Source], fps: Fraction) -> float:
    config = settings.get("TimecodeConfig") or {}
    mode = config.get("Source", "EMBEDDED")
    if mode == "SPECIFIEDSTART" and config.get("Start"):
        return timecode_seconds(config["Start"], fps)
    if mode == "EMBEDDED" and sources:
        return input_timecode_start(sources[0], fps)
    return 0.0


class _Graph:
    """The ffmpeg filter graph that cuts, prepares and joins every input."""

    def __init__(
        self, sources: list[Source], selectors: list[str], fps: Fraction, width: int, height: int, sar: Fraction
    ) -> None:
        self.sources, self.selectors = sources, selectors
        self.fps, self.width, self.height, self.sar = fps, width, height, sar
        self.inputs: list[str] = []
        self.lines: list[str] = []
        self.parts: list[str] = []  # concat inputs, in order
        self.pieces = 0
        self.captions: dict[str, list[Cue]] = {}
        self.external_index: dict[tuple[int, str], int] = {}

    def graph(self) -> str:
        video = 1 if self.width else 0
        join = f"{''.join(self.parts)}concat=n={self.pieces}:v={video}:a={len(self.selectors)}"
        outs = ("[vout]" if video else "") + "".join(f"[aout{i}]" for i in range(len(self.selectors)))
        return ";\n".join([*self.lines, join + outs]) + "\n"

    def assemble(self) -> float:
        for source in self.sources:
            self.inputs += ["-noautorotate", "-i", str(source.media.path)]
        count = len(self.sources)
        for source in self.sources:
            for name, media in source.externals.items():
                self.external_index[(source.index, name)] = count
                self.inputs += ["-i", str(media.path)]
                count += 1
        offset = 0.0
        for source in self.sources:
            clips = clip_ranges(source)
            video = self._prepare_video(source, len(clips)) if self.width else []
            audio = {name: self._prepare_audio(source, name, len(clips)) for name in self.selectors}
            for k, (start, end) in enumerate(clips):
                length = round((end - start) * float(self.fps)) / float(self.fps) if self.width else end - start
                piece = self.pieces
                if self.width:
                    label = f"[vp{piece}]"
                    if video:
                        self.lines.append(
                            f"{video[k]}trim=start={start:.6f}:end={start + length:.6f},setpts=PTS-STARTPTS,"
                            f"fps={self.fps},setsar={self.sar}{label}"
                        )
                    else:  # an input without video inside a job with video: black
                        self.lines.append(
                            f"color=black:s={self.width}x{self.height}:r={self.fps}:d={length:.6f},"
                            f"format=yuv420p,setsar={self.sar}{label}"
                        )
                    self.parts.append(label)
                for i, name in enumerate(self.selectors):
                    label = f"[ap{piece}_{i}]"
                    self.lines.append(self._audio_piece(audio[name], k, start, length) + label)
                    self.parts.append(label)
                self._map_captions(source, start, start + length, offset)
                offset += length
                self.pieces += 1
        return offset

    def _prepare_video(self, source: Source, clips: int) -> list[str]:
        if not source.media.has_video:
            return []
        chain = []
        rotation = _rotation(source)
        chain += {90: ["transpose=1"], 180: ["hflip", "vflip"], 270: ["transpose=2"]}.get(rotation, [])
        crop = source.settings.get("Crop") or {}
        if crop:
            chain.append(
                f"crop={crop.get('Width', 'iw')}:{crop.get('Height', 'ih')}:{crop.get('X', 0)}:{crop.get('Y', 0)}"
            )
        label = f"[vin{source.index}]"
        self.lines.append(f"[{source.index}:v:0]{','.join(chain) or 'null'},format=yuv420p{label}")
        if source.images:
            base = input_timecode_start(source, source.media.fps)
            label = overlay_images(self.lines, label, source.images, base, f"in{source.index}", source.media.fps)
        w, h = _frame(source)[:2]
        if (w, h) != (self.width, self.height):
            out = f"[vfit{source.index}]"
            self.lines.append(
                f"{label}scale={self.width}:{self.height}:force_original_aspect_ratio=decrease,"
                f"pad={self.width}:{self.height}:(ow-iw)/2:(oh-ih)/2{out}"
            )
            label = out
        if clips == 1:
            return [label]
        outs = [f"[vc{source.index}_{k}]" for k in range(clips)]
        self.lines.append(f"{label}split={clips}{''.join(outs)}")
        return outs

    def _prepare_audio(self, source: Source, name: str, clips: int) -> list[str] | None:
        """Labels of this selector's audio for each clip, or None for silence."""
        selector = _selector(source.settings, name)
        if selector is None:
            return None
        if (source.index, name) in self.external_index:
            stream = f"[{self.external_index[(source.index, name)]}:a:0]"
        else:
            track = (selector.get("Tracks") or [1])[0]
            if track > source.media.audio_streams:
                raise JobError(
                    1040,
                    f"Invalid audio track specified for audio_selector [{name}]. Only "
                    f"[{source.media.audio_streams}] audio tracks exist in the input [{source.uri}]. Remove the "
                    "audio descriptions or submit an input with audio.",
                )
            stream = f"[{source.index}:a:{track - 1}]"
        chain = [f"aresample={AUDIO_RATE}", "aformat=sample_fmts=s16:channel_layouts=stereo"]
        offset = selector.get("Offset", 0) / 1000
        if offset > 0:
            chain.append(f"adelay={int(offset * 1000)}:all=1")
        elif offset < 0:
            chain.append(f"atrim=start={-offset:.6f},asetpts=PTS-STARTPTS")
        label = f"[ain{source.index}_{self.selectors.index(name)}]"
        self.lines.append(f"{stream}{','.join(chain)}{label}")
        if clips == 1:
            return [label]
        outs = [f"[ac{source.index}_{self.selectors.index(name)}_{k}]" for k in range(clips)]
        self.lines.append(f"{label}asplit={clips}{''.join(outs)}")
        return outs

    def _audio_piece(self, labels: list[str] | None, k: int, start: float, length: float) -> str:
        if labels is None:
            return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=end={length:.6f},aformat=sample_fmts=s16"
        return (
            f"{labels[k]}atrim=start={start:.6f}:end={start + length:.6f},asetpts=PTS-STARTPTS,"
            f"apad=whole_dur={length:.6f},atrim=end={length:.6f}"
        )

    def _map_captions(self, source: Source, start: float, end: float, offset: float) -> None:
        for name, cues in source.captions.items():
            mapped = self.captions.setdefault(name, [])
            for cue in cues:
                a, b = max(cue.start, start), min(cue.end, end)
                if b > a:
                    mapped.append(Cue(offset + a - start, offset + b - start, cue.text))


def _selector(settings: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The input's selector for `name`: its own, else its DEFAULT one; an input that defines no
    selectors at all plays its first track."""
    selectors = settings.get("AudioSelectors") or {}
    if not selectors:
        return {"Tracks": [1]}
    if name in selectors:
        return selectors[name]
    return next((s for s in selectors.values() if s.get("DefaultSelection") == "DEFAULT"), None)


def overlay_images(
    lines: list[str], label: str, images: list[tuple[dict[str, Any], Path]], base: float, tag: str, fps: Fraction
) -> str:
    """Composite still images on `label` (input or output overlays); returns the new label.

    Times are on the stream's own clock: `base` is the timecode of its first frame."""
    for n, (image, path) in enumerate(sorted(images, key=lambda item: item[0].get("Layer", 0))):
        chain = ["format=rgba"]
        if image.get("Width") or image.get("Height"):
            chain.append(f"scale={image.get('Width', -1)}:{image.get('Height', -1)}")
        opacity = image.get("Opacity", 50) / 100
        chain.append(f"colorchannelmixer=aa={opacity:.4f}")
        img = f"[img{tag}_{n}]"
        lines.append(f"movie={path},{','.join(chain)}{img}")
        enable = ""
        if image.get("StartTime") or image.get("Duration"):
            start = timecode_seconds(image["StartTime"], fps) - base if image.get("StartTime") else 0.0
            end = start + image["Duration"] / 1000 if image.get("Duration") else 1e9
            enable = f":enable='between(t,{start:.6f},{end:.6f})'"
        out = f"[ov{tag}_{n}]"
        lines.append(f"{label}{img}overlay=x={image.get('ImageX', 0)}:y={image.get('ImageY', 0)}{enable}{out}")
        label = out
    return label


def probe_source(path: Path, uri: str) -> MediaInfo:
    unreadable = JobError(
        1010, f"Unable to open input file [{uri}]: [Failed probe/open: [No parser found for container]]"
    )
    try:
        media = probe(path)
    except ValueError as exc:
        raise unreadable from exc
    if not media.has_video and not media.audio_streams:
        raise unreadable
    return media
