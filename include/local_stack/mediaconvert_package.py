"""Packaging: segmenting encoded streams and writing HLS playlists and DASH manifests the way
MediaConvert names and shapes them (see jobs.expected_outputs for the names)."""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from include.local_stack.mediaconvert_media import Cue, ffprobe, webvtt_text

MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
#: first PTS ffmpeg's MPEG-TS muxer gives a stream that starts at 0 (its 1.4 s mux delay), 90 kHz
TS_START_PTS = 126000


@dataclass
class Segment:
    name: str
    duration: float
    size: int
    offset: int = 0  # byte offset inside a single file


@dataclass
class Stream:
    """One packaged output: what the manifests need to know about it."""

    name: str  # {base}{modifier}
    kind: str  # video | audio | captions
    segments: list[Segment] = field(default_factory=list)
    init: str | None = None
    single_file: str | None = None
    codecs: str = ""
    width: int = 0
    height: int = 0
    fps: Fraction | None = None
    sar: Fraction | None = None
    sample_rate: int = 0
    channels: int = 0
    language: str | None = None
    label: str | None = None  # NAME of an audio or subtitles rendition
    hls: dict[str, Any] = field(default_factory=dict)  # HlsSettings / CmfcSettings
    segment_name: str = ""  # {name}{SegmentModifier}, the stem of the numbered segments
    has_audio: bool = False
    timescale: int = 90000
    timeline: list[tuple[int, int]] = field(default_factory=list)  # DASH (start, duration) in timescale

    @property
    def total(self) -> float:
        return sum(s.duration for s in self.segments)

    def peak_bandwidth(self) -> int:
        rates = [s.size * 8 / s.duration for s in self.segments if s.duration > 0]
        return int(math.ceil(max(rates))) if rates else 0

    def average_bandwidth(self) -> int:
        total = self.total
        return int(math.ceil(sum(s.size for s in self.segments) * 8 / total)) if total > 0 else 0


# -- segment boundaries --------------------------------------------------------------------------
def boundaries(duration: float, length: float, count: int) -> list[float]:
    """Segment start times for `count` segments of `length` over `duration` (the last may be longer
    when MinFinalSegmentLength joined a short tail to it)."""
    return [k * length for k in range(count)] + [duration]


def segment_times_arg(duration: float, length: float, count: int) -> list[str]:
    cuts = boundaries(duration, length, count)[1:-1]
    if not cuts:
        return ["-segment_time", "86400"]
    return ["-segment_times", ",".join(f"{t:.6f}" for t in cuts)]


def collect_segments(directory: Path, names: list[str], starts: list[float]) -> list[Segment]:
    segments = []
    for i, name in enumerate(names):
        path = directory / name
        segments.append(Segment(name, starts[i + 1] - starts[i], path.stat().st_size))
    return segments


# -- raw audio segments --------------------------------------------------------------------------
def add_timestamp_id3(path: Path, start_seconds: float) -> None:
    """Prefix a raw AAC segment with the ID3 PRIV timestamp HLS players read
    (com.apple.streaming.transportStreamTimestamp, 33-bit 90 kHz PTS)."""
    pts = (TS_START_PTS + round(start_seconds * 90000)) & ((1 << 33) - 1)
    payload = b"com.apple.streaming.transportStreamTimestamp\x00" + struct.pack(">Q", pts)
    frame = b"PRIV" + _syncsafe(len(payload)) + b"\x00\x00" + payload
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame
    path.write_bytes(tag + path.read_bytes())


def _syncsafe(value: int) -> bytes:
    return bytes([(value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F])


# -- WebVTT segments -----------------------------------------------------------------------------
def webvtt_segments(
    directory: Path, name: str, cues: list[Cue], duration: float, length: float, count: int, mpegts: int
) -> list[Segment]:
    """WebVTT segments whose X-TIMESTAMP-MAP ties cue time 0 to the video's first PTS (`mpegts`)."""
    starts = boundaries(duration, length, count)
    segments = []
    for i in range(count):
        begin, end = starts[i], starts[i + 1]
        inside = [c for c in cues if c.end > begin and c.start < end]
        seg_name = f"{name}_{i + 1:05d}.vtt"
        header = f"X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n"
        (directory / seg_name).write_text(webvtt_text(inside, header))
        segments.append(Segment(seg_name, end - begin, (directory / seg_name).stat().st_size))
    return segments


# -- HLS playlists -------------------------------------------------------------------------------
def media_playlist(stream: Stream, group: dict[str, Any], *, version: int = 3) -> str:
    integer = group.get("ManifestDurationFormat", "FLOATING_POINT") == "INTEGER"
    longest = max((s.duration for s in stream.segments), default=0)
    target = math.ceil(longest) if group.get("TargetDurationCompatibilityMode") == "SPEC_COMPLIANT" else round(longest)
    if stream.single_file:
        version = max(version, 4)
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{max(1, target)}"]
    lines += ["#EXT-X-MEDIA-SEQUENCE:1", "#EXT-X-PLAYLIST-TYPE:VOD"]
    if group.get("ClientCache") == "DISABLED":
        lines.append("#EXT-X-ALLOW-CACHE:NO")
    if stream.init:
        lines += ["#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{stream.init}"']
    for seg in stream.segments:
        lines.append(f"#EXTINF:{round(seg.duration)}," if integer else f"#EXTINF:{seg.duration:.5f},")
        if stream.single_file:
            lines += [f"#EXT-X-BYTERANGE:{seg.size}@{seg.offset}", stream.single_file]
        else:
            lines.append(seg.name)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def master_playlist(streams: list[Stream], group: dict[str, Any], *, version: int = 3) -> str:
    video = [s for s in streams if s.kind == "video"]
    audio = [s for s in streams if s.kind == "audio"]
    captions = [s for s in streams if s.kind == "captions"]
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    renditions = bool(video) and bool(audio)
    audio_peak: dict[str, int] = {}
    if renditions:
        for i, s in enumerate(audio):
            group_id = s.hls.get("AudioGroupId") or "program_audio"
            track = s.hls.get("AudioTrackType", "ALTERNATE_AUDIO_AUTO_SELECT_DEFAULT" if i == 0 else "")
            default = "YES" if track == "ALTERNATE_AUDIO_AUTO_SELECT_DEFAULT" else "NO"
            autoselect = "YES" if track.startswith("ALTERNATE_AUDIO_AUTO_SELECT") else "NO"
            attrs = [f'TYPE=AUDIO,GROUP-ID="{group_id}"']
            if s.language:
                attrs.append(f'LANGUAGE="{s.language}"')
            attrs += [f'NAME="{s.label or s.language or "Audio"}"', f"AUTOSELECT={autoselect}", f"DEFAULT={default}"]
            attrs += [f'CHANNELS="{s.channels or 2}"', f'URI="{s.name}.m3u8"']
            lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
            audio_peak[group_id] = max(audio_peak.get(group_id, 0), s.peak_bandwidth())
    for i, s in enumerate(captions):
        attrs = ['TYPE=SUBTITLES,GROUP-ID="subs"']
        if s.language:
            attrs.append(f'LANGUAGE="{s.language}"')
        attrs += [f'NAME="{s.label or s.language or "Captions"}"', f"DEFAULT={'YES' if i == 0 else 'NO'}"]
        attrs += ["AUTOSELECT=YES", f'URI="{s.name}.m3u8"']
        lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
    for s in video or audio:
        sets = (s.hls.get("AudioRenditionSets") or "program_audio").split(",")[0] if renditions else None
        extra_peak = audio_peak.get(sets, 0) if sets else 0
        attrs = [
            f"BANDWIDTH={s.peak_bandwidth() + extra_peak}",
            f"AVERAGE-BANDWIDTH={s.average_bandwidth() + extra_peak}",
        ]
        codecs = s.codecs
        if sets and sets in audio_peak:
            codecs += "," + next(a.codecs for a in audio if (a.hls.get("AudioGroupId") or "program_audio") == sets)
        attrs.append(f'CODECS="{codecs}"')
        if s.kind == "video" and group.get("StreamInfResolution", "INCLUDE") == "INCLUDE":
            attrs.append(f"RESOLUTION={s.width}x{s.height}")
        if s.kind == "video" and s.fps:
            attrs.append(f"FRAME-RATE={float(s.fps):.3f}")
        if sets and sets in audio_peak:
            attrs.append(f'AUDIO="{sets}"')
        if captions:
            attrs.append('SUBTITLES="subs"')
        if group.get("CaptionLanguageSetting") == "NONE":
            attrs.append("CLOSED-CAPTIONS=NONE")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), f"{s.name}.m3u8"]
    return "\n".join(lines) + "\n"


# -- DASH ----------------------------------------------------------------------------------------
def merge_tail_segment(directory: Path, previous: str, tail: str) -> None:
    """Append the fragments of a tiny last segment to the one before it.

    An AAC encoder ends with a padded frame that can start just after the last segment boundary;
    ffmpeg's DASH muxer then opens one more segment for it, where MediaConvert writes none. The
    fragments keep their absolute decode times, so moving them is enough; the per-segment index
    (sidx) is dropped from the merged segment, as it no longer covers all of it."""
    merged = [box for box in _boxes((directory / previous).read_bytes()) if box[4:8] != b"sidx"]
    merged += [box for box in _boxes((directory / tail).read_bytes()) if box[4:8] not in (b"styp", b"sidx")]
    (directory / previous).write_bytes(b"".join(merged))
    (directory / tail).unlink()


def _boxes(data: bytes) -> list[bytes]:
    boxes, i = [], 0
    while i + 8 <= len(data):
        size = struct.unpack(">I", data[i : i + 4])[0] or len(data) - i
        boxes.append(data[i : i + size])
        i += size
    return boxes


def read_dash_timeline(mpd: Path) -> tuple[int, list[tuple[int, int]], dict[str, str]]:
    """(timescale, [(start, duration)], Representation attributes) of ffmpeg's one-stream MPD."""
    root = ET.parse(mpd).getroot()  # noqa: S314 - written by our own ffmpeg run
    rep = root.find(f".//{{{MPD_NS}}}Representation")
    template = root.find(f".//{{{MPD_NS}}}SegmentTemplate")
    if rep is None or template is None:
        raise ValueError(f"{mpd.name}: no Representation")
    timescale = int(template.get("timescale", "1"))
    entries = []
    t = 0
    for s in template.iter(f"{{{MPD_NS}}}S"):
        t = int(s.get("t", t))
        d = int(s.get("d", "0"))
        for _ in range(int(s.get("r", "0")) + 1):
            entries.append((t, d))
            t += d
    return timescale, entries, dict(rep.attrib)


def mpd_document(streams: list[Stream], group: dict[str, Any], duration: float) -> str:
    ET.register_namespace("", MPD_NS)
    mpd = ET.Element(f"{{{MPD_NS}}}MPD", {
        "type": "static",
        "minBufferTime": _iso_duration(group.get("MinBufferTime", 2000) / 1000),
        "profiles": "urn:mpeg:dash:profile:isoff-main:2011",
        "mediaPresentationDuration": _iso_duration(duration),
    })  # fmt: skip
    period = ET.SubElement(
        mpd, f"{{{MPD_NS}}}Period", {"start": "PT0S", "duration": _iso_duration(duration), "id": "1"}
    )
    average = group.get("MpdManifestBandwidthType") == "AVERAGE"
    timeline = group.get("WriteSegmentTimelineInRepresentation", "ENABLED") == "ENABLED"
    ids = iter(range(1, 1000))
    for kind, mime in (("video", "video/mp4"), ("audio", "audio/mp4")):
        members = [s for s in streams if s.kind == kind]
        if not members:
            continue
        attrs = {"mimeType": mime, "segmentAlignment": "true", "startWithSAP": "1"}
        if kind == "video" and members[0].fps:
            attrs["frameRate"] = str(members[0].fps)
        if kind == "audio" and members[0].language:
            attrs["lang"] = members[0].language
        aset = ET.SubElement(period, f"{{{MPD_NS}}}AdaptationSet", attrs)
        for s in members:
            rep_attrs = {
                "id": str(next(ids)),
                "bandwidth": str(s.average_bandwidth() if average else s.peak_bandwidth()),
                "codecs": s.codecs,
            }
            if kind == "video":
                rep_attrs.update(width=str(s.width), height=str(s.height))
                if s.sar:
                    rep_attrs["sar"] = f"{s.sar.numerator}:{s.sar.denominator}"
            else:
                rep_attrs["audioSamplingRate"] = str(s.sample_rate)
            rep = ET.SubElement(aset, f"{{{MPD_NS}}}Representation", rep_attrs)
            if kind == "audio":
                ET.SubElement(rep, f"{{{MPD_NS}}}AudioChannelConfiguration", {
                    "schemeIdUri": "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
                    "value": str(s.channels or 2),
                })  # fmt: skip
            ext = s.segments[0].name.rsplit(".", 1)[-1] if s.segments else "mp4"
            template_attrs = {
                "timescale": str(s.timescale),
                "media": f"{s.name}_$Number%09d$.{ext}",
                "initialization": s.init or "",
                "startNumber": "1",
            }
            if not timeline:
                template_attrs["duration"] = str(round(group.get("SegmentLength", 30) * s.timescale))
            template = ET.SubElement(rep, f"{{{MPD_NS}}}SegmentTemplate", template_attrs)
            if timeline:
                st = ET.SubElement(template, f"{{{MPD_NS}}}SegmentTimeline")
                for t, d in s.timeline:
                    ET.SubElement(st, f"{{{MPD_NS}}}S", {"t": str(t), "d": str(d)})
    ET.indent(mpd)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"


def _iso_duration(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    return text + f"{secs:.3f}S"


# -- codec strings -------------------------------------------------------------------------------
AVC_PROFILES = {"Baseline": "42E0", "Constrained Baseline": "42E0", "Main": "4D40", "High": "6400"}


def codec_strings(*paths: Path) -> dict[str, Any]:
    """RFC 6381 codec strings and stream facts of a packaged file, or of an init segment followed
    by a media segment (an init segment alone does not tell ffprobe the profile and level)."""
    path = paths[0]
    if len(paths) > 1:
        path = paths[0].with_name(paths[0].name + ".probe")
        path.write_bytes(b"".join(p.read_bytes() for p in paths))
    try:
        info = ffprobe(path)
    finally:
        if len(paths) > 1:
            path.unlink()
    out: dict[str, Any] = {"codecs": []}
    for s in info.get("streams", []):
        if s.get("codec_name") == "h264":
            out["codecs"].append(
                f"avc1.{AVC_PROFILES.get(s.get('profile', 'High'), '6400')}{int(s.get('level', 40)):02X}"
            )
            out.update(width=s["width"], height=s["height"])
        elif s.get("codec_name") == "hevc":
            main10 = "10" in str(s.get("profile", ""))
            out["codecs"].append(f"hvc1.{2 if main10 else 1}.{4 if main10 else 6}.L{int(s.get('level', 93))}.B0")
            out.update(width=s["width"], height=s["height"])
        elif s.get("codec_name") == "aac":
            out["codecs"].append("mp4a.40.2")
            out.update(sample_rate=int(s.get("sample_rate", 48000)), channels=int(s.get("channels", 2)))
        elif s.get("codec_name") == "mp3":
            out["codecs"].append("mp4a.40.34")
    out["codecs"] = ",".join(out["codecs"])
    return out
