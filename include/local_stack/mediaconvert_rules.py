"""Cross-field rules a job must meet before the local service runs it.

Some are MediaConvert's own (a DASH output carries one stream, QVBR takes MaxBitrate and no
Bitrate, a job is not frame captures alone); the others are where the local service stops short
of MediaConvert (one track per audio selector, MP3 CBR only at the rates LAME can write). Each
problem is reported with its path, next to the per-setting refusals of mediaconvert_support.
"""

from __future__ import annotations

import re
from typing import Any

from include.local_stack.mediaconvert_naming import jobs
from include.local_stack.mediaconvert_wire import model

TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;]\d{2}$")
#: MPEG-1 and MPEG-2 Layer III bitrates (bit/s); LAME can write CBR at no other rate
MP3_RATES = {
    "mpeg1": {32000, 40000, 48000, 56000, 64000, 80000, 96000, 112000, 128000, 160000, 192000, 224000, 256000, 320000},
    "mpeg2": {8000, 16000, 24000, 32000, 40000, 48000, 56000, 64000, 80000, 96000, 112000, 128000, 144000, 160000},
}
STREAMING = ("HLS_GROUP_SETTINGS", "DASH_ISO_GROUP_SETTINGS", "CMAF_GROUP_SETTINGS")
DEFAULT_CONTAINER = {
    "FILE_GROUP_SETTINGS": "MP4",
    "HLS_GROUP_SETTINGS": "M3U8",
    "DASH_ISO_GROUP_SETTINGS": "MPD",
    "CMAF_GROUP_SETTINGS": "CMFC",
}
ALLOWED_CONTAINERS = {
    "FILE_GROUP_SETTINGS": {"MP4", "MOV", "RAW"},
    "HLS_GROUP_SETTINGS": {"M3U8"},
    "DASH_ISO_GROUP_SETTINGS": {"MPD"},
    "CMAF_GROUP_SETTINGS": {"CMFC"},
}
GROUP_MEMBERS = {
    "FILE_GROUP_SETTINGS": "FileGroupSettings",
    "HLS_GROUP_SETTINGS": "HlsGroupSettings",
    "DASH_ISO_GROUP_SETTINGS": "DashIsoGroupSettings",
    "CMAF_GROUP_SETTINGS": "CmafGroupSettings",
}
NAME_IDENTIFIERS = {"fn", "dt", "d", "t", "rv", "ra", "rc", "w", "h", "f", "ex", "$"}

#: the rules below, for the docs page (kept next to the code that applies them)
RULES = (
    "At least one input and one output group; inputs, external audio, captions and images are s3:// objects.",
    "Containers by group: MP4, MOV or RAW in file groups, M3U8 in HLS, MPD in DASH ISO, CMFC in CMAF.",
    "A RAW output holds one frame capture, one audio stream (AAC, MP3) or one sidecar captions track (SRT, WebVTT); "
    "MP3 goes in RAW outputs of file groups only.",
    "Each DASH ISO or CMAF output carries exactly one video or audio stream; captions there are refused.",
    "DASH ISO and CMAF groups must set SegmentControl: MediaConvert's API model leaves its default undocumented.",
    "A job is not frame captures alone (MediaConvert's own rule).",
    "Rate control as MediaConvert validates it: QVBR takes MaxBitrate (not Bitrate; automated ABR excepted), CBR takes "
    "Bitrate (not MaxBitrate), VBR takes Bitrate.",
    "Burned-in captions need a video output, one track each; sidecar captions go alone in their own output.",
    "Audio and captions selector names an output uses exist in an input; one track per audio selector.",
    "Automated ABR: an HLS, DASH ISO or CMAF group with one H.264/H.265 QVBR video output; then every ABR group of "
    "the job uses it.",
    "Outputs of a group have distinct names; 4:2:0 video has even Width and Height; image layers are distinct.",
    "MP3 CBR only at MPEG-1/2 Layer III bitrates (LAME writes no other); format identifiers are those of "
    "MediaConvert's list ($fn$, $dt$, $d$, $t$, $rv$, $ra$, $rc$, $w$, $h$, $f$, $ex$, $$).",
    "In HLS TS outputs the first audio PID follows the video PID (ffmpeg numbers PIDs in order).",
)


def wire(*parts: str | int) -> str:
    """("OutputGroups", 0, "Outputs", 1, "NameModifier") -> "/outputGroups/0/outputs/1/nameModifier"."""
    shape = model().shape_for("JobSettings")
    out = []
    for part in parts:
        if isinstance(part, int):
            out.append(str(part))
            shape = shape.member
        elif shape.type_name == "map":
            out.append(part)
            shape = shape.value
        else:
            member = shape.members[part]
            out.append(member.serialization.get("name", part))
            shape = member
    return "/" + "/".join(out)


def container_of(group_type: str, output: dict[str, Any]) -> str:
    return (output.get("ContainerSettings") or {}).get("Container") or DEFAULT_CONTAINER.get(group_type, "MP4")


def video_settings(output: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    codec = (output.get("VideoDescription") or {}).get("CodecSettings") or {}
    name = codec.get("Codec")
    member = {"H_264": "H264Settings", "H_265": "H265Settings", "FRAME_CAPTURE": "FrameCaptureSettings"}.get(name or "")
    return name, codec.get(member or "", {}) or {}


def cross_field_problems(settings: dict[str, Any], *, template: bool = False) -> list:
    from include.local_stack.mediaconvert_support import Problem

    problems: list[Problem] = []

    def add(message: str, *path: str | int) -> None:
        problems.append(Problem(wire(*path), message))

    inputs = settings.get("Inputs") or []
    if not template and not inputs:
        add("at least one input is required", "Inputs")
    selectors: set[str] = set()
    captions: set[str] = set()
    for ii, inp in enumerate(inputs):
        _check_input(inp, ii, add, template)
        selectors |= set(inp.get("AudioSelectors") or {})
        captions |= set(inp.get("CaptionSelectors") or {})
    groups = settings.get("OutputGroups") or []
    if not groups:
        add("at least one output group is required", "OutputGroups")
    all_frame_capture = bool(groups)
    automated = [bool(g.get("AutomatedEncodingSettings")) for g in groups]
    for gi, group in enumerate(groups):
        gs = group.get("OutputGroupSettings") or {}
        kind = gs.get("Type", "")
        sub = gs.get(GROUP_MEMBERS.get(kind, ""), {}) or {}
        if kind in ("DASH_ISO_GROUP_SETTINGS", "CMAF_GROUP_SETTINGS") and "SegmentControl" not in sub:
            add(
                "not set: MediaConvert's API leaves its default undocumented, so the local service needs it "
                "explicitly (SEGMENTED_FILES)",
                "OutputGroups", gi, "OutputGroupSettings", GROUP_MEMBERS[kind], "SegmentControl",
            )  # fmt: skip
        if kind in STREAMING and any(automated) and not automated[gi]:
            add("a job with an automated ABR group must use automated ABR in every ABR group", "OutputGroups", gi)
        if automated[gi]:
            _check_automated(group, gi, kind, add)
        names: dict[str, int] = {}
        for oi, output in enumerate(group.get("Outputs") or []):
            codec, _ = video_settings(output)
            if codec != "FRAME_CAPTURE":
                all_frame_capture = False
            _check_output(output, gi, oi, kind, sub, automated[gi], selectors, captions, add)
            key = _name_key(kind, output)
            if key in names:
                add(f"output {names[key]} of this group already has this name; give each output its own "
                    "NameModifier", "OutputGroups", gi, "Outputs", oi, "NameModifier")  # fmt: skip
            names.setdefault(key, oi)
    if all_frame_capture:
        add("a job cannot consist of frame capture outputs only (MediaConvert needs an audio or video output too)",
            "OutputGroups")  # fmt: skip
    return problems


def _check_input(inp: dict[str, Any], ii: int, add, template: bool) -> None:
    uri = inp.get("FileInput")
    if not template and not str(uri or "").startswith("s3://"):
        add("the local service reads s3:// inputs only", "Inputs", ii, "FileInput")
    for ci, clip in enumerate(inp.get("InputClippings") or []):
        if not clip.get("StartTimecode") and not clip.get("EndTimecode"):
            add("a clip needs a start or an end timecode", "Inputs", ii, "InputClippings", ci)
        for member in ("StartTimecode", "EndTimecode"):
            if clip.get(member) and not TIMECODE.match(clip[member]):
                add(f"{clip[member]!r} is not a HH:MM:SS:FF timecode", "Inputs", ii, "InputClippings", ci, member)
    if inp.get("TimecodeSource") == "SPECIFIEDSTART" and not inp.get("TimecodeStart"):
        add("SPECIFIEDSTART needs TimecodeStart", "Inputs", ii, "TimecodeStart")
    for name, sel in (inp.get("AudioSelectors") or {}).items():
        if len(sel.get("Tracks") or []) > 1:
            add("combining several tracks in one selector is not done locally; select one track",
                "Inputs", ii, "AudioSelectors", name, "Tracks")  # fmt: skip
        external = sel.get("ExternalAudioFileInput")
        if external is not None and not str(external).startswith("s3://"):
            add("the local service reads s3:// audio files only", "Inputs", ii, "AudioSelectors", name,
                "ExternalAudioFileInput")  # fmt: skip
    for name, sel in (inp.get("CaptionSelectors") or {}).items():
        source = ((sel.get("SourceSettings") or {}).get("FileSourceSettings") or {}).get("SourceFile")
        if not str(source or "").startswith("s3://"):
            add("the local service reads s3:// captions files only", "Inputs", ii, "CaptionSelectors", name,
                "SourceSettings", "FileSourceSettings", "SourceFile")  # fmt: skip
    _check_images(((inp.get("ImageInserter") or {}).get("InsertableImages") or []), add, "Inputs", ii, "ImageInserter")


def _check_images(images: list[dict[str, Any]], add, *path: str | int) -> None:
    layers: set[int] = set()
    for ii, image in enumerate(images):
        if not str(image.get("ImageInserterInput", "")).startswith("s3://"):
            add("the local service reads s3:// images only", *path, "InsertableImages", ii, "ImageInserterInput")
        if image.get("StartTime") and not TIMECODE.match(image["StartTime"]):
            add(f"{image['StartTime']!r} is not a HH:MM:SS:FF timecode", *path, "InsertableImages", ii, "StartTime")
        layer = image.get("Layer", 0)
        if layer in layers:
            add(f"layer {layer} is used twice; each image needs its own", *path, "InsertableImages", ii, "Layer")
        layers.add(layer)


def _check_automated(group: dict[str, Any], gi: int, kind: str, add) -> None:
    if kind not in STREAMING:
        add("automated ABR needs an HLS, DASH ISO or CMAF group", "OutputGroups", gi, "AutomatedEncodingSettings")
    video = [oi for oi, o in enumerate(group.get("Outputs") or []) if o.get("VideoDescription")]
    if len(video) != 1:
        add("automated ABR takes exactly one video output (the base for every rendition)", "OutputGroups", gi,
            "Outputs")  # fmt: skip
        return
    codec, vs = video_settings(group["Outputs"][video[0]])
    if codec not in ("H_264", "H_265") or vs.get("RateControlMode") != "QVBR":
        add("automated ABR needs H.264 or H.265 with RateControlMode QVBR", "OutputGroups", gi, "Outputs", video[0],
            "VideoDescription", "CodecSettings")  # fmt: skip


def _check_output(
    output: dict[str, Any], gi: int, oi: int, kind: str, sub: dict, automated: bool, selectors: set, captions: set, add
) -> None:
    at = ("OutputGroups", gi, "Outputs", oi)
    container = container_of(kind, output)
    if container not in ALLOWED_CONTAINERS.get(kind, set()):
        add(f"{container} does not go in a {kind} group", *at, "ContainerSettings", "Container")
    vd = output.get("VideoDescription")
    audio = output.get("AudioDescriptions") or []
    caption_list = output.get("CaptionDescriptions") or []
    destinations = [((c.get("DestinationSettings") or {}).get("DestinationType")) for c in caption_list]
    sidecar = [d for d in destinations if d in ("SRT", "WEBVTT")]
    codec, vs = video_settings(output)
    if not vd and not audio and not sidecar:
        add("an output needs video, audio or sidecar captions", *at)
    if destinations.count("BURN_IN") > 1:
        add("only one captions track can be burned into an output", *at, "CaptionDescriptions")
    if "BURN_IN" in destinations and (not vd or codec == "FRAME_CAPTURE"):
        add("burn-in captions need a video output", *at, "CaptionDescriptions")
    if sidecar and (vd or audio or len(caption_list) > 1):
        add("sidecar captions (SRT, WebVTT) go alone in their own output", *at, "CaptionDescriptions")
    if kind == "FILE_GROUP_SETTINGS":
        _check_file_output(output, container, codec, audio, sidecar, add, at)
    elif kind == "HLS_GROUP_SETTINGS":
        m3u8 = (output.get("ContainerSettings") or {}).get("M3u8Settings") or {}
        if vd and audio and m3u8.get("AudioPids") and m3u8["AudioPids"][0] != m3u8.get("VideoPid", 481) + 1:
            add("the local service numbers PIDs in order, so the first audio PID must follow the video PID",
                *at, "ContainerSettings", "M3u8Settings", "AudioPids")  # fmt: skip
        if "SRT" in sidecar:
            add("HLS groups carry WebVTT captions, not SRT", *at, "CaptionDescriptions")
        hls = (output.get("OutputSettings") or {}).get("HlsSettings") or {}
        raw_audio = not vd and audio and hls.get("AudioOnlyContainer", "AUTOMATIC") == "AUTOMATIC"
        if raw_audio and sub.get("SegmentControl") == "SINGLE_FILE":
            add("SINGLE_FILE is not written locally for raw audio outputs; set AudioOnlyContainer M2TS",
                *at, "OutputSettings", "HlsSettings", "AudioOnlyContainer")  # fmt: skip
    else:
        if sum(bool(x) for x in (vd, audio, caption_list)) != 1 or len(audio) > 1:
            add("each DASH ISO or CMAF output carries exactly one video, audio or captions stream", *at)
        if caption_list:
            add("captions in DASH ISO and CMAF groups are not written locally", *at, "CaptionDescriptions")
    if codec == "FRAME_CAPTURE" and (container != "RAW" or audio):
        add("frame capture outputs use the RAW container and carry no audio", *at, "VideoDescription")
    if vd and codec in ("H_264", "H_265"):
        _check_video(vd, vs, automated, add, at)
    if vd:
        _check_images(
            (((vd.get("VideoPreprocessors") or {}).get("ImageInserter") or {}).get("InsertableImages") or []),
            add, *at, "VideoDescription", "VideoPreprocessors", "ImageInserter",
        )  # fmt: skip
    for ai, desc in enumerate(audio):
        _check_audio(desc, ai, kind, vd, selectors, add, at)
    for ci, desc in enumerate(caption_list):
        name = desc.get("CaptionSelectorName")
        if name not in captions:
            add(f"no input has a captions selector named {name!r}", *at, "CaptionDescriptions", ci,
                "CaptionSelectorName")  # fmt: skip
    for member in ("NameModifier",):
        _check_identifiers(output.get(member, ""), add, *at, member)
    hls = (output.get("OutputSettings") or {}).get("HlsSettings") or {}
    _check_identifiers(hls.get("SegmentModifier", ""), add, *at, "OutputSettings", "HlsSettings", "SegmentModifier")


def _check_file_output(output, container, codec, audio, sidecar, add, at) -> None:
    if container == "RAW":
        kinds = [bool(codec), bool(audio), bool(sidecar)]
        if sum(kinds) != 1 or (codec and codec != "FRAME_CAPTURE") or len(audio) > 1:
            add("a RAW output holds one frame capture, one audio stream or one sidecar captions track",
                *at, "ContainerSettings", "Container")  # fmt: skip
    elif sidecar:
        add("sidecar captions go in a RAW output", *at, "ContainerSettings", "Container")
    elif codec == "FRAME_CAPTURE":
        pass  # reported with the frame capture rule
    if container != "RAW" and any(
        (a.get("CodecSettings") or {}).get("Codec") == "MP3" for a in audio
    ):  # MP3 in MP4/MOV is not what MediaConvert writes
        add("MP3 audio goes in a RAW output", *at, "ContainerSettings", "Container")


def _check_video(vd: dict, vs: dict, automated: bool, add, at) -> None:
    codec_member = "H264Settings" if "H264Settings" in (vd.get("CodecSettings") or {}) else "H265Settings"
    where = (*at, "VideoDescription", "CodecSettings", codec_member)
    mode = vs.get("RateControlMode", "CBR")
    if mode == "QVBR" and not automated and "MaxBitrate" not in vs:
        add("QVBR needs MaxBitrate", *where, "MaxBitrate")
    if mode == "QVBR" and "Bitrate" in vs:
        add("QVBR takes MaxBitrate, not Bitrate", *where, "Bitrate")
    if mode in ("CBR", "VBR") and "Bitrate" not in vs:
        add(f"{mode} needs Bitrate", *where, "Bitrate")
    if mode == "CBR" and "MaxBitrate" in vs:
        add("CBR takes Bitrate, not MaxBitrate", *where, "MaxBitrate")
    if vs.get("FramerateControl") == "SPECIFIED" and not (
        vs.get("FramerateNumerator") and vs.get("FramerateDenominator")
    ):
        add("SPECIFIED needs FramerateNumerator and FramerateDenominator", *where, "FramerateControl")
    if vs.get("ParControl") == "SPECIFIED" and not (vs.get("ParNumerator") and vs.get("ParDenominator")):
        add("SPECIFIED needs ParNumerator and ParDenominator", *where, "ParControl")
    for member in ("Width", "Height"):
        if vd.get(member) and vd[member] % 2:
            add(f"{vd[member]} is odd; 4:2:0 video needs even dimensions", *at, "VideoDescription", member)


def _check_audio(desc: dict, ai: int, kind: str, vd, selectors: set, add, at) -> None:
    where = (*at, "AudioDescriptions", ai)
    name = desc.get("AudioSourceName")
    if name and name not in selectors:
        add(f"no input has an audio selector named {name!r}", *where, "AudioSourceName")
    cs = desc.get("CodecSettings") or {}
    if cs.get("Codec") == "MP3":
        if kind != "FILE_GROUP_SETTINGS":
            add("MP3 is written in file groups only", *where, "CodecSettings", "Codec")
        mp3 = cs.get("Mp3Settings") or {}
        rate = mp3.get("SampleRate", 48000)
        family = "mpeg1" if rate >= 32000 else "mpeg2"
        if mp3.get("RateControlMode", "CBR") == "CBR" and mp3.get("Bitrate", 128000) not in MP3_RATES[family]:
            add(
                f"{mp3.get('Bitrate')} is not a Layer III bitrate at {rate} Hz, so MP3 CBR cannot be written at it "
                f"(nearest: {min(MP3_RATES[family], key=lambda r: abs(r - mp3['Bitrate']))})",
                *where, "CodecSettings", "Mp3Settings", "Bitrate",
            )  # fmt: skip


def _check_identifiers(text: str, add, *path: str | int) -> None:
    for name in re.findall(r"\$([^$]*)\$", text or ""):
        if name not in NAME_IDENTIFIERS and name != "":
            add(f"format identifier ${name}$ is not supported by the local service", *path)


def _name_key(kind: str, output: dict[str, Any]) -> tuple:
    ext = jobs.file_extension(output) if kind == "FILE_GROUP_SETTINGS" else ""
    capture = video_settings(output)[0] == "FRAME_CAPTURE"
    return output.get("NameModifier", ""), ext, capture
