"""Building MediaConvert CreateJob requests from editable JSON templates, without Airflow.

Everything here is pure: template loading, filling the input/destination/role/queue, fitting the
renditions to the probed source (no upscaling, no audio outputs for a silent input), checking
the request against botocore's MediaConvert model, deriving the output keys (GetJob does not
return them) and the idempotency token. The operator, the local service and the tests share it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import posixpath
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from mediaflow.common.errors import InputError
from mediaflow.common.s3 import parse_s3_uri
from mediaflow.common.summary import plural

#: where the bundled templates live; MEDIAFLOW_MEDIACONVERT_TEMPLATES points elsewhere
TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "include" / "mediaconvert"
DEFAULT_TEMPLATE = "mp4_renditions"

#: AAC bitrates MediaConvert accepts (botocore's AacSettings.Bitrate documentation)
AAC_BITRATES = frozenset(
    {
        6000, 8000, 10000, 12000, 14000, 16000, 20000, 24000, 28000, 32000, 40000, 48000, 56000, 64000,
        80000, 96000, 112000, 128000, 160000, 192000, 224000, 256000, 288000, 320000, 384000, 448000,
        512000, 576000, 640000, 768000, 896000, 1024000,
    }
)  # fmt: skip

TERMINAL_STATUSES = frozenset({"COMPLETE", "ERROR", "CANCELED"})


class JobSettingsError(InputError):
    """A template or request that MediaConvert would refuse; raised before any job exists."""


@dataclass(frozen=True)
class SourceInfo:
    """What the submit step needs to know about the input (from ffprobe)."""

    width: int
    height: int
    has_audio: bool
    duration: float | None = None


# -- templates -----------------------------------------------------------------------------------
def template_dir() -> Path:
    return Path(os.environ.get("MEDIAFLOW_MEDIACONVERT_TEMPLATES") or TEMPLATE_DIR)


def bundled_templates() -> list[str]:
    return sorted(p.stem for p in template_dir().glob("*.json"))


def load_template(name: str) -> dict[str, Any]:
    """A bundled template by name: `{"Settings": ..., optional "Description", "Queue", ...}`."""
    if not name or "/" in name or name.startswith("."):
        raise JobSettingsError(
            f"template {name!r}: give the name of a bundled template ({', '.join(bundled_templates())})"
        )
    path = template_dir() / f"{name}.json"
    if not path.is_file():
        raise JobSettingsError(
            f"template {name!r} not found in {template_dir().name}/: use one of {', '.join(bundled_templates())} "
            "or add a JSON file there"
        )
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise JobSettingsError(f"template {name!r} ({path.name}) is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Settings"), dict):
        raise JobSettingsError(f"template {name!r} ({path.name}) needs a top-level 'Settings' object")
    return data


# -- request building ----------------------------------------------------------------------------
def build_request(
    template: dict[str, Any] | None,
    *,
    input_uri: str,
    destination: str,
    role_arn: str,
    queue: str | None = None,
    job_template_name: str | None = None,
    source: SourceInfo | None = None,
    user_metadata: dict[str, str] | None = None,
    client_request_token: str | None = None,
) -> dict[str, Any]:
    """The CreateJob keyword arguments: the template's settings with input, destinations, role
    and queue filled in, fitted to `source` when it is known.

    With `job_template_name` the settings stored in MediaConvert apply; we still send the input
    and, for a named template, leave its outputs alone (they are not visible here)."""
    if not destination.endswith("/"):
        destination += "/"
    request: dict[str, Any] = {"Role": role_arn}
    if job_template_name:
        request["JobTemplate"] = job_template_name
        settings: dict[str, Any] = {"Inputs": [{"FileInput": input_uri}]}
        if source is not None and source.has_audio:
            settings["Inputs"][0]["AudioSelectors"] = {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}
    else:
        if template is None:
            raise JobSettingsError("give either a bundled template or job_template_name")
        settings = copy.deepcopy(template["Settings"])
        inputs = settings.get("Inputs") or [{}]
        if len(inputs) != 1:
            raise JobSettingsError(f"Settings.Inputs: the template must have exactly one input, it has {len(inputs)}")
        inputs[0]["FileInput"] = input_uri
        settings["Inputs"] = inputs
        for i, group in enumerate(settings.get("OutputGroups") or []):
            _set_destination(group, destination, f"Settings.OutputGroups[{i}]")
        if source is not None:
            fit_to_source(settings, source)
        for key in ("Queue", "Priority", "StatusUpdateInterval", "AccelerationSettings"):
            if key in template:
                request[key] = template[key]
    request["Settings"] = settings
    if queue:
        request["Queue"] = queue
    if user_metadata:
        request["UserMetadata"] = {k: str(v)[:256] for k, v in user_metadata.items()}
    if client_request_token:
        request["ClientRequestToken"] = client_request_token
    return request


def _set_destination(group: dict[str, Any], destination: str, where: str) -> None:
    group_settings = group.get("OutputGroupSettings") or {}
    kind = group_settings.get("Type")
    member = {
        "FILE_GROUP_SETTINGS": "FileGroupSettings",
        "HLS_GROUP_SETTINGS": "HlsGroupSettings",
        "DASH_ISO_GROUP_SETTINGS": "DashIsoGroupSettings",
        "CMAF_GROUP_SETTINGS": "CmafGroupSettings",
        "MS_SMOOTH_GROUP_SETTINGS": "MsSmoothGroupSettings",
    }.get(kind or "")
    if member is None:
        raise JobSettingsError(
            f"{where}.OutputGroupSettings.Type: {kind!r} is not an output group type MediaConvert knows"
        )
    sub = group_settings.setdefault(member, {})
    # a template may put renditions in a sub-folder with a relative "Destination": "hls/"
    relative = sub.get("Destination", "")
    if relative.startswith("s3://"):
        relative = ""
    sub["Destination"] = destination + relative.lstrip("/")


def fit_to_source(settings: dict[str, Any], source: SourceInfo) -> None:
    """Never upscale, and never ask for audio the input does not have.

    Renditions taller than the source are dropped; when that would leave a group without video
    the smallest rendition is kept at the source's own size (even dimensions). With
    no audio stream, audio descriptions and selectors go, and audio-only outputs with them
    (MediaConvert would fail with "Invalid audio track specified for audio_selector")."""
    if not source.has_audio:
        for inp in settings.get("Inputs", []):
            inp.pop("AudioSelectors", None)
            inp.pop("AudioSelectorGroups", None)
    for group in settings.get("OutputGroups", []):
        outputs = group.get("Outputs", [])
        if not source.has_audio:
            outputs = [o for o in outputs if o.get("VideoDescription")]
            for o in outputs:
                o.pop("AudioDescriptions", None)
        video = [o for o in outputs if o.get("VideoDescription", {}).get("Height")]
        fitting = [o for o in video if o["VideoDescription"]["Height"] <= source.height]
        if video and not fitting and source.height >= 32:
            smallest = min(video, key=lambda o: o["VideoDescription"]["Height"])
            vd = smallest["VideoDescription"]
            vd["Width"], vd["Height"] = max(32, _even(source.width)), _even(source.height)
            fitting = [smallest]
        keep = {id(o) for o in fitting} | {id(o) for o in outputs if o not in video}
        group["Outputs"] = [o for o in outputs if id(o) in keep]
    settings["OutputGroups"] = [g for g in settings.get("OutputGroups", []) if g.get("Outputs")]
    if not settings["OutputGroups"]:
        raise JobSettingsError("no output is left after fitting the template to the source; check the template")


def _even(value: float) -> int:
    return int(round(value / 2.0)) * 2


# -- validation ----------------------------------------------------------------------------------
@cache
def _service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("mediaconvert")


def validate_request(request: dict[str, Any], operation: str = "CreateJob") -> None:
    """Check `request` against botocore's MediaConvert model and MediaConvert's own rules that
    the model cannot express; raise JobSettingsError naming every bad field."""
    from botocore.validate import ParamValidator

    shape = _service_model().operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    problems = [line.strip() for line in report.generate_report().splitlines() if line.strip()]
    problems += _enum_problems(shape, request, "")  # ParamValidator does not check enums
    problems += _semantic_problems(request.get("Settings") or {})
    if problems:
        raise JobSettingsError("the MediaConvert request is invalid:\n- " + "\n- ".join(problems))


def _enum_problems(shape, value: Any, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        problems = []
        for name, item in value.items():
            if name in shape.members:
                problems += _enum_problems(shape.members[name], item, f"{path}.{name}" if path else name)
        return problems
    if kind == "list" and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _enum_problems(shape.member, item, f"{path}[{i}]")]
    if kind == "map" and isinstance(value, dict):
        return [p for k, item in value.items() for p in _enum_problems(shape.value, item, f"{path}.{k}")]
    enum = getattr(shape, "enum", None)
    if kind == "string" and enum and value not in enum:
        return [f"{path}: {value!r} is not one of {', '.join(enum[:12])}{' ...' if len(enum) > 12 else ''}"]
    return []


def _semantic_problems(settings: dict[str, Any]) -> list[str]:
    problems = []
    for gi, group in enumerate(settings.get("OutputGroups") or []):
        for oi, output in enumerate(group.get("Outputs") or []):
            where = f"Settings.OutputGroups[{gi}].Outputs[{oi}]"
            codec = output.get("VideoDescription", {}).get("CodecSettings", {})
            h264 = codec.get("H264Settings")
            if h264 is not None:
                mode = h264.get("RateControlMode", "CBR")
                if mode == "QVBR" and "MaxBitrate" not in h264:
                    problems.append(
                        f"{where}.VideoDescription.CodecSettings.H264Settings.MaxBitrate is required with QVBR"
                    )
                if mode in ("CBR", "VBR") and "Bitrate" not in h264:
                    problems.append(
                        f"{where}.VideoDescription.CodecSettings.H264Settings.Bitrate is required with {mode}"
                    )
            for ai, audio in enumerate(output.get("AudioDescriptions") or []):
                aac = audio.get("CodecSettings", {}).get("AacSettings")
                if aac and "Bitrate" in aac and aac["Bitrate"] not in AAC_BITRATES:
                    problems.append(
                        f"{where}.AudioDescriptions[{ai}].CodecSettings.AacSettings.Bitrate: {aac['Bitrate']} is not "
                        f"one of the AAC bitrates MediaConvert accepts (e.g. 96000, 128000, 160000)"
                    )
    return problems


# -- outputs and identity ------------------------------------------------------------------------
# What a COMPLETE job wrote, named as MediaConvert names it. GetJob lists no paths, so the keys are
# derived from the settings; segment and frame-capture counts need each output's duration, which
# GetJob reports in OutputGroupDetails.

#: extension of an output in a file group that sets no `Extension`, by container
CONTAINER_EXTENSIONS = {"MP4": "mp4", "MOV": "mov", "M3U8": "m3u8", "M2TS": "m2ts", "WEBM": "webm", "MXF": "mxf"}
#: ... and, for RAW (no container), by codec
RAW_EXTENSIONS = {
    "FRAME_CAPTURE": "jpg", "AAC": "aac", "MP3": "mp3", "MP2": "mp2", "WAV": "wav", "AIFF": "aif", "AC3": "ac3",
    "EAC3": "eac3", "FLAC": "flac", "H_264": "h264", "H_265": "h265", "SRT": "srt", "WEBVTT": "vtt", "TTML": "ttml",
    "SCC": "scc", "SMI": "smi", "IMSC": "xml",
}  # fmt: skip
GROUP_MEMBERS = {
    "FILE_GROUP_SETTINGS": "FileGroupSettings",
    "HLS_GROUP_SETTINGS": "HlsGroupSettings",
    "DASH_ISO_GROUP_SETTINGS": "DashIsoGroupSettings",
    "CMAF_GROUP_SETTINGS": "CmafGroupSettings",
    "MS_SMOOTH_GROUP_SETTINGS": "MsSmoothGroupSettings",
}
HLS_SEGMENT_DIGITS = 5  # name_00001.ts
ISO_SEGMENT_DIGITS = 9  # name_000000001.mp4 (DASH ISO and CMAF)
CAPTURE_DIGITS = 7  # name.0000000.jpg, numbered from 0
#: caption segments of an HLS group with CaptionSegmentLengthControl LARGE_SEGMENTS (the default)
LARGE_CAPTION_SEGMENT = 300
_FORMAT_IDENTIFIER = re.compile(r"\$(?:\$|([A-Za-z]+)\$)")  # $name$, or $$ for a literal $


@dataclass(frozen=True)
class NamingContext:
    """What names may depend on besides the settings: the job's start (for $dt$, $d$, $t$) and the
    source video (for $w$, $h$, $f$ of outputs that follow the source)."""

    start_time: datetime | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None


@dataclass
class OutputFiles:
    """The objects one output writes: a per-output playlist (HLS, CMAF), an init segment (DASH,
    CMAF), media segments, or plain files (file group outputs, frame captures, sidecar captions)."""

    group: int
    output: int
    kind: str
    playlist: str | None = None
    init: str | None = None
    segments: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def uris(self) -> list[str]:
        return [k for k in (self.playlist, self.init) if k] + self.segments + self.files


@dataclass
class GroupOutputs:
    """One output group's manifests and outputs. `complete` is False when some objects cannot be
    named in advance: segments or captures without durations, automated ABR renditions."""

    index: int
    type: str
    manifests: list[str]
    outputs: list[OutputFiles]
    complete: bool = True

    def uris(self) -> list[str]:
        playlists = [o.playlist for o in self.outputs if o.playlist]
        rest = [k for o in self.outputs for k in ([o.init] if o.init else []) + o.segments + o.files]
        return self.manifests + playlists + rest


def output_keys(
    settings: dict[str, Any], details: list[dict[str, Any]] | None = None, context: NamingContext | None = None
) -> list[str]:
    """The s3:// URIs a COMPLETE job wrote, in MediaConvert's naming (see `expected_outputs`)."""
    return [key for group in expected_outputs(settings, details, context) for key in group.uris()]


def expected_outputs(
    settings: dict[str, Any], details: list[dict[str, Any]] | None = None, context: NamingContext | None = None
) -> list[GroupOutputs]:
    """Every object each output group writes, named as MediaConvert names them:

    - file group: `{destination}{base}{NameModifier}.{ext}`; frame captures `{base}{mod}.NNNNNNN.jpg`
      from 0, one for the first frame and one every FramerateDenominator/FramerateNumerator seconds;
    - HLS: master `{base}.m3u8`, per output `{base}{mod}.m3u8` and segments
      `{base}{mod}{SegmentModifier}_NNNNN.ts` from 1 (`.aac` for raw audio-only outputs, `.vtt` for
      WebVTT captions), or one `{base}{mod}.ts` with SINGLE_FILE;
    - DASH ISO: `{base}.mpd`, per output `{base}{mod}init.mp4` and `{base}{mod}_NNNNNNNNN.mp4`;
    - CMAF: `{base}.m3u8` and `{base}.mpd`, per output `{base}{mod}.m3u8`, `{base}{mod}init.cmfv` and
      `{base}{mod}_NNNNNNNNN.cmfv` (`.cmfa` for audio).

    `base` is the destination's last path element, or the first input's file name without its
    extension when the destination ends with "/". `details` is GetJob's OutputGroupDetails: the
    durations there give the segment and capture counts; without them only what does not depend
    on the duration is listed (and `complete` is False)."""
    inputs = settings.get("Inputs") or []
    if not inputs or not inputs[0].get("FileInput"):
        return []
    stem = posixpath.splitext(posixpath.basename(inputs[0]["FileInput"]))[0]
    ctx = context or NamingContext()
    groups = []
    for gi, group in enumerate(settings.get("OutputGroups") or []):
        gs = group.get("OutputGroupSettings") or {}
        kind = gs.get("Type", "")
        sub = gs.get(GROUP_MEMBERS.get(kind, ""), {})
        destination = sub.get("Destination")
        if not destination:
            continue
        prefix, base = split_destination(resolve_identifiers(destination, stem, ctx, None, kind, "Destination"), stem)
        durations = _durations(details, gi)
        namer = _GroupNamer(gi, kind, sub, prefix, base, stem, ctx)
        groups.append(namer.name(group, durations))
    return groups


class _GroupNamer:
    def __init__(self, index: int, kind: str, sub: dict, prefix: str, base: str, stem: str, ctx: NamingContext):
        self.index, self.kind, self.sub, self.prefix, self.base, self.stem, self.ctx = (
            index, kind, sub, prefix, base, stem, ctx,
        )  # fmt: skip

    def name(self, group: dict[str, Any], durations: list[float] | None) -> GroupOutputs:
        outputs = group.get("Outputs") or []
        automated = bool(group.get("AutomatedEncodingSettings"))
        if automated and durations is not None:
            # the renditions replace the video output in OutputGroupDetails; the other outputs follow
            extra = len(durations) - len(outputs)
            video_at = next((i for i, o in enumerate(outputs) if o.get("VideoDescription")), 0)
            durations = durations[:video_at] + durations[video_at + extra :]
        result = GroupOutputs(self.index, self.kind, self._manifests(), [], complete=not automated)
        for oi, output in enumerate(outputs):
            if automated and output.get("VideoDescription"):
                continue  # MediaConvert chooses the renditions (and their names) while it runs
            duration = durations[oi] if durations is not None and oi < len(durations) else None
            if duration is None and self._needs_duration(output):
                result.complete = False
            result.outputs.append(self._output(oi, output, duration))
        return result

    def _uri(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _modifier(self, output: dict[str, Any], field_name: str = "NameModifier", value: str | None = None) -> str:
        text = output.get(field_name, "") if value is None else value
        return resolve_identifiers(text, self.stem, self.ctx, output, self.kind, field_name)

    def _manifests(self) -> list[str]:
        sub = self.sub
        if self.kind == "HLS_GROUP_SETTINGS":
            return [] if sub.get("OutputSelection") == "SEGMENTS_ONLY" else [self._uri(f"{self.base}.m3u8")]
        if self.kind == "DASH_ISO_GROUP_SETTINGS":
            return [self._uri(f"{self.base}.mpd")]
        if self.kind == "CMAF_GROUP_SETTINGS":
            manifests = []
            if sub.get("WriteHlsManifest", "ENABLED") == "ENABLED":
                manifests.append(self._uri(f"{self.base}.m3u8"))
            if sub.get("WriteDashManifest", "ENABLED") == "ENABLED":
                manifests.append(self._uri(f"{self.base}.mpd"))
            return manifests
        return []

    def _needs_duration(self, output: dict[str, Any]) -> bool:
        if self.kind == "FILE_GROUP_SETTINGS":
            return _video_codec(output) == "FRAME_CAPTURE"
        return not (self.kind == "HLS_GROUP_SETTINGS" and self.sub.get("SegmentControl") == "SINGLE_FILE")

    def _output(self, oi: int, output: dict[str, Any], duration: float | None) -> OutputFiles:
        name = self.base + self._modifier(output)
        if self.kind == "FILE_GROUP_SETTINGS":
            return self._file_output(oi, output, name, duration)
        if self.kind == "HLS_GROUP_SETTINGS":
            return self._hls_output(oi, output, name, duration)
        audio = not output.get("VideoDescription") and bool(output.get("AudioDescriptions"))
        ext = ("cmfa" if audio else "cmfv") if self.kind == "CMAF_GROUP_SETTINGS" else "mp4"
        files = OutputFiles(self.index, oi, "audio" if audio else "video", init=self._uri(f"{name}init.{ext}"))
        if self.kind == "CMAF_GROUP_SETTINGS" and self.sub.get("WriteHlsManifest", "ENABLED") == "ENABLED":
            files.playlist = self._uri(f"{name}.m3u8")
        if duration is not None:
            count = segment_count(duration, self.sub.get("SegmentLength", 30), self.sub.get("MinFinalSegmentLength", 0))
            files.segments = [self._uri(f"{name}_{n:0{ISO_SEGMENT_DIGITS}d}.{ext}") for n in range(1, count + 1)]
        return files

    def _file_output(self, oi: int, output: dict[str, Any], name: str, duration: float | None) -> OutputFiles:
        ext = file_extension(output)
        if _video_codec(output) != "FRAME_CAPTURE":
            return OutputFiles(self.index, oi, _output_kind(output), files=[self._uri(f"{name}.{ext}")])
        files = OutputFiles(self.index, oi, "frame_capture")
        fc = output["VideoDescription"]["CodecSettings"].get("FrameCaptureSettings") or {}
        count = 1 if duration is None else capture_count(duration, fc)
        files.files = [self._uri(f"{name}.{n:0{CAPTURE_DIGITS}d}.{ext}") for n in range(count)]
        return files

    def _hls_output(self, oi: int, output: dict[str, Any], name: str, duration: float | None) -> OutputFiles:
        hls = (output.get("OutputSettings") or {}).get("HlsSettings") or {}
        kind = _output_kind(output)
        files = OutputFiles(self.index, oi, kind)
        if self.sub.get("OutputSelection") != "SEGMENTS_ONLY":
            files.playlist = self._uri(f"{name}.m3u8")
        if kind == "captions":
            ext, length = "vtt", _caption_segment_length(self.sub)
        else:
            raw_audio = kind == "audio" and hls.get("AudioOnlyContainer", "AUTOMATIC") == "AUTOMATIC"
            ext, length = ("aac" if raw_audio else "ts"), self.sub.get("SegmentLength", 10)
        if self.sub.get("SegmentControl") == "SINGLE_FILE" and kind != "captions":
            files.files = [self._uri(f"{name}.{ext}")]
            return files
        if duration is not None:
            segment_name = name + self._modifier(output, "SegmentModifier", hls.get("SegmentModifier", ""))
            count = segment_count(duration, length, self.sub.get("MinFinalSegmentLength", 0))
            files.segments = [
                self._uri(f"{segment_name}_{n:0{HLS_SEGMENT_DIGITS}d}.{ext}") for n in range(1, count + 1)
            ]
        return files


def segment_count(duration: float, segment_length: float, min_final: float = 0) -> int:
    """How many segments of `segment_length` seconds a `duration` makes; a last segment shorter
    than `min_final` seconds is joined to the one before (MinFinalSegmentLength)."""
    length = float(segment_length or 10)
    count = max(1, math.ceil((duration - 0.0005) / length))
    if min_final and count > 1 and duration - (count - 1) * length < min_final:
        count -= 1
    return count


def capture_count(duration: float, frame_capture: dict[str, Any]) -> int:
    """Frame captures of a `duration`: the first frame, then one every denominator/numerator s."""
    rate = frame_capture.get("FramerateNumerator", 1) / frame_capture.get("FramerateDenominator", 1)
    count = max(1, math.ceil(duration * rate - 1e-6))
    return min(count, frame_capture["MaxCaptures"]) if frame_capture.get("MaxCaptures") else count


def file_extension(output: dict[str, Any]) -> str:
    """The extension of a file group output: `Extension`, else the container's, else (RAW) the codec's."""
    if output.get("Extension"):
        return output["Extension"]
    container = (output.get("ContainerSettings") or {}).get("Container", "MP4")
    if container != "RAW":
        return CONTAINER_EXTENSIONS.get(container, container.lower())
    captions = output.get("CaptionDescriptions") or []
    if _video_codec(output):
        codec = _video_codec(output)
    elif output.get("AudioDescriptions"):
        codec = (output["AudioDescriptions"][0].get("CodecSettings") or {}).get("Codec", "AAC")
    elif captions:
        codec = ((captions[0].get("DestinationSettings") or {}).get("DestinationType")) or ""
    else:
        codec = ""
    return RAW_EXTENSIONS.get(codec, codec.lower() or "bin")


def _video_codec(output: dict[str, Any]) -> str | None:
    return ((output.get("VideoDescription") or {}).get("CodecSettings") or {}).get("Codec")


def _output_kind(output: dict[str, Any]) -> str:
    if output.get("VideoDescription"):
        return "video"
    if output.get("AudioDescriptions"):
        return "audio"
    return "captions" if output.get("CaptionDescriptions") else "empty"


def _caption_segment_length(hls_group: dict[str, Any]) -> float:
    if hls_group.get("CaptionSegmentLengthControl") == "MATCH_VIDEO":
        return hls_group.get("SegmentLength", 10)
    return LARGE_CAPTION_SEGMENT


def _durations(details: list[dict[str, Any]] | None, group: int) -> list[float] | None:
    if details is None or group >= len(details):
        return None
    return [d.get("DurationInMs", 0) / 1000.0 for d in details[group].get("OutputDetails") or []]


def split_destination(destination: str, stem: str) -> tuple[str, str]:
    """`s3://b/p/` -> (`s3://b/p/`, input stem); `s3://b/p/name` -> (`s3://b/p/`, `name`)."""
    if destination.endswith("/"):
        return destination, stem
    head, _, tail = destination.rpartition("/")
    return head + "/", tail


def resolve_identifiers(
    text: str, stem: str, ctx: NamingContext, output: dict[str, Any] | None, group_type: str, where: str
) -> str:
    """Replace MediaConvert's format identifiers ($fn$, $dt$, $w$, $rv$, ...) in a destination,
    name modifier or segment modifier."""
    if "$" not in text:
        return text

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name == "fn":
            return stem
        if name in ("dt", "d", "t"):
            if ctx.start_time is None:
                raise JobSettingsError(f"{where} uses ${name}$: the job's start time is needed to name the outputs")
            fmt = {"dt": "%Y%m%dT%H%M%S", "d": "%Y%m%d", "t": "%H%M%S"}[name]
            return ctx.start_time.astimezone(UTC).strftime(fmt)
        if name == "ex":
            if group_type == "FILE_GROUP_SETTINGS":
                return file_extension(output or {})
            return {"DASH_ISO_GROUP_SETTINGS": "mpd"}.get(group_type, "m3u8")
        if output is None or name not in ("rv", "ra", "rc", "w", "h", "f"):
            raise JobSettingsError(f"{where}: format identifier ${name}$ is not supported by mediaflow's output naming")
        return str(_output_variable(name, output, ctx, where))

    return _FORMAT_IDENTIFIER.sub(value, text)


def _output_variable(name: str, output: dict[str, Any], ctx: NamingContext, where: str) -> int:
    vd = output.get("VideoDescription") or {}
    codec = vd.get("CodecSettings") or {}
    video = next((v for k, v in codec.items() if k.endswith("Settings") and isinstance(v, dict)), {})
    video_kbps = (video.get("MaxBitrate") if video.get("RateControlMode") == "QVBR" else video.get("Bitrate")) or 0
    audio_kbps = 0
    for audio in output.get("AudioDescriptions") or []:
        cs = audio.get("CodecSettings") or {}
        audio_kbps += next((v.get("Bitrate", 0) for k, v in cs.items() if k.endswith("Settings")), 0)
    values: dict[str, int | None] = {
        "rv": video_kbps // 1000,
        "ra": audio_kbps // 1000,
        "rc": (video_kbps + audio_kbps) // 1000,
        "w": vd.get("Width"),
        "h": vd.get("Height"),
    }
    if ctx.width and ctx.height:  # a side left out keeps the source's aspect ratio
        if values["w"] is None:
            values["w"] = _even(ctx.width * values["h"] / ctx.height) if values["h"] else ctx.width
        if values["h"] is None:
            values["h"] = _even(ctx.height * values["w"] / ctx.width) if vd.get("Width") else ctx.height
    if video.get("FramerateControl") == "SPECIFIED":
        values["f"] = int(video["FramerateNumerator"] / video["FramerateDenominator"])
    else:
        values["f"] = int(ctx.fps) if ctx.fps else None
    if values[name] is None:
        raise JobSettingsError(
            f"{where} uses ${name}$: the source video's size and frame rate are needed to resolve it"
        )
    return values[name]


def client_request_token(*parts: Any) -> str:
    """A stable token from the run and the input: the same task instance, retried, submits the
    same request and MediaConvert answers with the job it already has."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"mediaflow-{digest[:40]}"


def default_destination(bucket: str, key: str) -> str:
    stem = posixpath.splitext(posixpath.basename(key))[0] or "output"
    return f"s3://{bucket}/{stem}/"


# -- after the job: what it wrote, checked and summarised ------------------------------------
#: frame captures of one output named in the task's XCom and summary (the rest are counted)
LISTED_CAPTURES = 20
GROUP_TITLES = {
    "FILE_GROUP_SETTINGS": "files",
    "HLS_GROUP_SETTINGS": "HLS",
    "DASH_ISO_GROUP_SETTINGS": "DASH",
    "CMAF_GROUP_SETTINGS": "CMAF",
    "MS_SMOOTH_GROUP_SETTINGS": "Smooth Streaming",
}


def missing_outputs(groups: list[GroupOutputs], existing: set[str]) -> list[str]:
    """The URIs the groups name that are not in `existing` (URIs listed in S3), in group order."""
    return [uri for group in groups for uri in group.uris() if uri not in existing]


def listing_prefixes(uris: list[str]) -> dict[str, str]:
    """Bucket -> the longest key prefix all of `uris` in it share: one listing per bucket finds them."""
    keys: dict[str, list[str]] = {}
    for uri in uris:
        bucket, key = parse_s3_uri(uri)
        keys.setdefault(bucket, []).append(key)
    return {bucket: os.path.commonprefix(names) for bucket, names in keys.items()}


def listed_outputs(groups: list[GroupOutputs]) -> list[str]:
    """The URIs a person or a player opens: manifests, per-output playlists, files, and the first
    `LISTED_CAPTURES` frame captures of each output; not the media segments the playlists list."""
    uris: list[str] = []
    for group in groups:
        uris += group.manifests
        uris += [o.playlist for o in group.outputs if o.playlist]
        for o in group.outputs:
            uris += o.files[:LISTED_CAPTURES] if o.kind == "frame_capture" else o.files
    return uris


def outputs_summary(job_id: str, input_uri: str, groups: list[GroupOutputs]) -> list[str]:
    """The finished job in a few lines for the task log: each group's manifests and outputs, with
    how many segments or frame captures each output wrote."""
    lines = [f"MediaConvert job {job_id} COMPLETE for {input_uri}"]
    for group in groups:
        title = GROUP_TITLES.get(group.type, group.type)
        folder = os.path.commonprefix(group.uris()).rpartition("/")[0]
        lines.append(f"  {title}: " + (", ".join(group.manifests) or (f"in {folder}/" if folder else "no outputs")))
        for o in group.outputs:
            lines.append("    " + _output_line(o))
        if not group.complete:
            lines.append("    (renditions MediaConvert chose while it ran are not named here)")
    return lines


def _output_line(o: OutputFiles) -> str:
    if o.kind == "frame_capture":
        if len(o.files) == 1:
            return f"{o.files[0]} (1 frame capture)"
        return f"{o.files[0]} .. {o.files[-1]} ({len(o.files)} frame captures)"
    main = o.playlist or (o.files[0] if o.files else o.init or "")
    extra = [plural(len(o.segments), "segment")] if o.segments else []
    if o.init and main != o.init:
        extra.insert(0, "init segment")
    return main + (f" ({', '.join(extra)})" if extra else "")
