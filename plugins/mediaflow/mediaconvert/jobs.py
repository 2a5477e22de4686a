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
import os
import posixpath
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mediaflow.common.errors import InputError

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

#: file extension MediaConvert gives each container when the output sets no `Extension`
CONTAINER_EXTENSIONS = {"MP4": "mp4", "MOV": "mov", "M3U8": "m3u8", "M2TS": "m2ts", "WEBM": "webm", "MXF": "mxf"}

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
def output_keys(settings: dict[str, Any]) -> list[str]:
    """The s3:// URIs a COMPLETE job wrote: `{Destination}{input basename}{NameModifier}.{ext}`
    per output, plus the master playlist of each HLS group (GetJob does not list them)."""
    inputs = settings.get("Inputs") or []
    if not inputs or not inputs[0].get("FileInput"):
        return []
    stem = posixpath.splitext(posixpath.basename(inputs[0]["FileInput"]))[0]
    uris: list[str] = []
    for group in settings.get("OutputGroups") or []:
        gs = group.get("OutputGroupSettings") or {}
        kind = gs.get("Type")
        sub = gs.get(
            {"FILE_GROUP_SETTINGS": "FileGroupSettings", "HLS_GROUP_SETTINGS": "HlsGroupSettings"}.get(kind, ""), {}
        )
        destination = sub.get("Destination")
        if not destination:
            continue
        base, name = _split_destination(destination, stem)
        if kind == "HLS_GROUP_SETTINGS":
            uris.append(f"{base}{name}.m3u8")
        for output in group.get("Outputs") or []:
            container = (output.get("ContainerSettings") or {}).get(
                "Container", "M3U8" if kind == "HLS_GROUP_SETTINGS" else "MP4"
            )
            ext = output.get("Extension") or CONTAINER_EXTENSIONS.get(container, container.lower())
            uris.append(f"{base}{name}{output.get('NameModifier', '')}.{ext}")
    return uris


def _split_destination(destination: str, stem: str) -> tuple[str, str]:
    """`s3://b/p/` -> (`s3://b/p/`, input stem); `s3://b/p/name` -> (`s3://b/p/`, `name`)."""
    if destination.endswith("/"):
        return destination, stem
    head, _, tail = destination.rpartition("/")
    return head + "/", tail


def client_request_token(*parts: Any) -> str:
    """A stable token from the run and the input: the same task instance, retried, submits the
    same request and MediaConvert answers with the job it already has."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"mediaflow-{digest[:40]}"


def default_destination(bucket: str, key: str) -> str:
    stem = posixpath.splitext(posixpath.basename(key))[0] or "output"
    return f"s3://{bucket}/{stem}/"
