"""The transcoding engine behind the local MediaConvert service: which settings it honours, and
how a job's settings become ffmpeg runs, S3 reads and writes, and OutputGroupDetails.

Only settings with a faithful ffmpeg equivalent are accepted; `check_supported` refuses the rest
by their full path, so a template that works here never silently differs on real MediaConvert.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ANY = object()  # any value the model allows


def _list(spec: Any) -> tuple[str, Any]:
    return ("list", spec)


def _map(spec: Any) -> tuple[str, Any]:
    return ("map", spec)


H264 = {
    "RateControlMode": {"QVBR", "CBR", "VBR"},
    "MaxBitrate": ANY,
    "Bitrate": ANY,
    "HrdBufferSize": ANY,
    "QvbrSettings": {"QvbrQualityLevel": ANY},
    "SceneChangeDetect": ANY,
    "CodecProfile": {"BASELINE", "MAIN", "HIGH"},
    "CodecLevel": {"AUTO"},
    "GopSize": ANY,
    "GopSizeUnits": {"FRAMES", "SECONDS"},
    "NumberBFramesBetweenReferenceFrames": ANY,
    "FramerateControl": {"INITIALIZE_FROM_SOURCE", "SPECIFIED"},
    "FramerateNumerator": ANY,
    "FramerateDenominator": ANY,
    "ParControl": {"INITIALIZE_FROM_SOURCE"},
    "QualityTuningLevel": ANY,
}
AUDIO = {
    "AudioSourceName": ANY,
    "CodecSettings": {
        "Codec": {"AAC"},
        "AacSettings": {
            "Bitrate": ANY,
            "SampleRate": ANY,
            "CodingMode": {"CODING_MODE_1_0", "CODING_MODE_2_0"},
            "CodecProfile": {"LC"},
            "RateControlMode": {"CBR"},
        },
    },
}
OUTPUT = {
    "NameModifier": ANY,
    "Extension": ANY,
    "ContainerSettings": {
        "Container": {"MP4", "MOV", "M3U8"},
        "Mp4Settings": {"MoovPlacement": ANY},
        "MovSettings": {},
        "M3u8Settings": {},
    },
    "OutputSettings": {"HlsSettings": {}},
    "VideoDescription": {
        "Width": ANY,
        "Height": ANY,
        "ScalingBehavior": {"DEFAULT", "STRETCH_TO_OUTPUT"},
        "CodecSettings": {"Codec": {"H_264"}, "H264Settings": H264},
    },
    "AudioDescriptions": _list(AUDIO),
}
SUPPORTED = {
    "TimecodeConfig": {"Source": {"ZEROBASED", "EMBEDDED"}},
    "Inputs": _list(
        {
            "FileInput": ANY,
            "TimecodeSource": {"ZEROBASED", "EMBEDDED"},
            "VideoSelector": {},
            "AudioSelectors": _map({"DefaultSelection": {"DEFAULT"}}),
        }
    ),
    "OutputGroups": _list(
        {
            "Name": ANY,
            "CustomName": ANY,
            "OutputGroupSettings": {
                "Type": {"FILE_GROUP_SETTINGS", "HLS_GROUP_SETTINGS"},
                "FileGroupSettings": {"Destination": ANY},
                "HlsGroupSettings": {
                    "Destination": ANY,
                    "SegmentLength": ANY,
                    "MinSegmentLength": {0},
                    "SegmentControl": {"SEGMENTED_FILES"},
                    "DirectoryStructure": {"SINGLE_DIRECTORY"},
                    "ManifestDurationFormat": {"INTEGER", "FLOATING_POINT"},
                    "OutputSelection": {"MANIFESTS_AND_SEGMENTS"},
                },
            },
            "Outputs": _list(OUTPUT),
        }
    ),
}

QVBR_CRF = {level: 37 - 2 * level for level in range(1, 11)}  # 7 -> crf 23, ffmpeg's default quality
PRESETS = {"SINGLE_PASS": "veryfast", "SINGLE_PASS_HQ": "faster", "MULTI_PASS_HQ": "medium"}


class JobError(Exception):
    """A job that ends in ERROR, with MediaConvert's code and wording."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class JobCanceled(Exception):
    pass


class UnsupportedSetting(Exception):
    pass


# -- what is supported ---------------------------------------------------------------------------
def check_supported(settings: dict[str, Any], *, template: bool = False) -> None:
    """Raise UnsupportedSetting (the service answers 400) naming the first setting the local
    engine cannot honour."""
    problems: list[str] = []
    _walk(settings, SUPPORTED, "settings", problems)
    if not template:
        inputs = settings.get("Inputs") or []
        if len(inputs) != 1:
            problems.append(f"settings.inputs: the local service runs jobs with exactly one input, got {len(inputs)}")
        elif not str(inputs[0].get("FileInput", "")).startswith("s3://"):
            problems.append("settings.inputs[0].fileInput: the local service reads s3:// inputs only")
    for gi, group in enumerate(settings.get("OutputGroups") or []):
        kind = (group.get("OutputGroupSettings") or {}).get("Type")
        for oi, output in enumerate(group.get("Outputs") or []):
            container = (output.get("ContainerSettings") or {}).get("Container", "MP4")
            where = f"settings.outputGroups[{gi}].outputs[{oi}].containerSettings.container"
            if (kind == "HLS_GROUP_SETTINGS") != (container == "M3U8"):
                problems.append(f"{where}: {container} does not go in a {kind} output group")
    if problems:
        raise UnsupportedSetting("Unsupported by the local MediaConvert service (remove or change it): " + problems[0])


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _walk(value: Any, spec: Any, path: str, problems: list[str]) -> None:
    if spec is ANY:
        return
    if isinstance(spec, set):
        if value not in spec:
            problems.append(f"{path}: value {value!r} (supported: {', '.join(sorted(map(str, spec)))})")
        return
    if isinstance(spec, tuple):
        kind, inner = spec
        items = enumerate(value) if kind == "list" and isinstance(value, list) else (value or {}).items()
        for key, item in items:
            _walk(item, inner, f"{path}[{key}]" if kind == "list" else f"{path}.{key}", problems)
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object")
        return
    for key, item in value.items():
        if key not in spec:
            problems.append(f"{path}.{_camel(key)}")
            continue
        _walk(item, spec[key], f"{path}.{_camel(key)}", problems)


# -- running a job -------------------------------------------------------------------------------
def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ValueError(out.stderr.strip() or "ffprobe failed")
    return json.loads(out.stdout)


def run_job(
    settings: dict[str, Any],
    s3_endpoint: str,
    progress: Callable[[int, str], None],
    cancel: threading.Event,
) -> list[dict[str, Any]]:
    """Transcode every output of `settings`; return OutputGroupDetails. Raises JobError."""
    s3 = s3_client(s3_endpoint)
    uri = settings["Inputs"][0]["FileInput"]
    with tempfile.TemporaryDirectory(prefix="mc-job-") as tmp:
        work = Path(tmp)
        source = work / ("input" + (posixpath.splitext(uri)[1] or ".bin"))
        bucket, key = split_uri(uri)
        try:
            s3.download_file(bucket, key, str(source))
        except Exception as exc:  # noqa: BLE001 - reported as MediaConvert reports it
            raise JobError(
                1010,
                f"Unable to open input file [{uri}]: [Failed probe/open: [Can't read input stream: "
                f"[Failed to read data: HeadObject failed: {exc}]]]",
            ) from exc
        try:
            info = probe(source)
        except ValueError as exc:
            raise JobError(
                1010, f"Unable to open input file [{uri}]: [Failed probe/open: [No parser found for container]]"
            ) from exc
        video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
        audio_tracks = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
        duration = float(info.get("format", {}).get("duration") or 0)
        if video is None or duration <= 0:
            raise JobError(
                1010, f"Unable to open input file [{uri}]: [Failed probe/open: [No parser found for container]]"
            )
        wants_audio = any(o.get("AudioDescriptions") for g in settings["OutputGroups"] for o in g.get("Outputs", []))
        if wants_audio and not audio_tracks:
            raise JobError(
                1040,
                "Invalid audio track specified for audio_selector [1]. Only [0] audio tracks exist in the input "
                f"[{uri}]. Remove the audio descriptions or submit an input with audio.",
            )
        fps = _fps(video)
        stem = posixpath.splitext(posixpath.basename(key))[0]
        outputs = [(gi, oi) for gi, g in enumerate(settings["OutputGroups"]) for oi, _ in enumerate(g["Outputs"])]
        done = 0
        details = []
        for gi, group in enumerate(settings["OutputGroups"]):
            gs = group["OutputGroupSettings"]
            hls = gs["Type"] == "HLS_GROUP_SETTINGS"
            sub = gs["HlsGroupSettings" if hls else "FileGroupSettings"]
            dest_bucket, dest_key = split_uri(sub["Destination"])
            prefix, name = (dest_key, stem) if dest_key.endswith("/") or not dest_key else dest_key.rsplit("/", 1)
            if not dest_key.endswith("/") and dest_key:
                prefix += "/"
            group_dir = work / f"group{gi}"
            group_dir.mkdir()
            output_details = []
            variants = []
            for output in group["Outputs"]:
                base = f"{name}{output.get('NameModifier', '')}"

                def report(fraction: float, done: int = done) -> None:
                    progress(min(99, int(100 * (done + fraction) / len(outputs))), "TRANSCODING")

                if hls:
                    target = group_dir / f"{base}.m3u8"
                    args = _hls_args(sub, group_dir, base)
                else:
                    container = output.get("ContainerSettings", {}).get("Container", "MP4")
                    ext = output.get("Extension") or {"MP4": "mp4", "MOV": "mov"}[container]
                    target = group_dir / f"{base}.{ext}"
                    args = _file_args(output, container)
                cmd = ["ffmpeg", "-v", "error", "-nostats", "-y", "-i", str(source)]
                cmd += _video_args(output.get("VideoDescription"), video, fps)
                cmd += _audio_args(output.get("AudioDescriptions"))
                cmd += ["-progress", "pipe:1", *args, str(target)]
                _run_ffmpeg(cmd, duration, report, cancel, uri)
                done += 1
                out_info = probe(target)
                out_video = next((s for s in out_info["streams"] if s.get("codec_type") == "video"), None)
                detail: dict[str, Any] = {
                    "DurationInMs": int(round(float(out_info["format"].get("duration", 0)) * 1000))
                }
                if out_video:
                    detail["VideoDetails"] = {"WidthInPx": out_video["width"], "HeightInPx": out_video["height"]}
                output_details.append(detail)
                variants.append((base, output, out_video))
            if hls:
                _write_master(group_dir / f"{name}.m3u8", variants)
            progress(99, "UPLOADING")
            for path in sorted(group_dir.iterdir()):
                content_type = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/MP2T", ".mp4": "video/mp4"}
                s3.upload_file(
                    str(path),
                    dest_bucket,
                    prefix + path.name,
                    ExtraArgs={"ContentType": content_type.get(path.suffix, "application/octet-stream")},
                )
            details.append({"OutputDetails": output_details})
        return details


def _fps(video: dict[str, Any]) -> float:
    num, _, den = str(video.get("avg_frame_rate") or video.get("r_frame_rate") or "25/1").partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        value = 0
    return value or 25.0


def _video_args(vd: dict[str, Any] | None, source: dict[str, Any], fps: float) -> list[str]:
    if not vd:
        return ["-vn"]
    width, height = vd.get("Width"), vd.get("Height")
    if width and height:
        scale = f"scale={width}:{height}"
    elif height:
        scale = f"scale=-2:{height}"
    elif width:
        scale = f"scale={width}:-2"
    else:
        scale = f"scale={source['width']}:{source['height']}"
    h264 = vd.get("CodecSettings", {}).get("H264Settings", {})
    args = ["-vf", f"{scale},setsar=1", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    args += ["-preset", PRESETS.get(h264.get("QualityTuningLevel", "SINGLE_PASS"), "veryfast")]
    mode = h264.get("RateControlMode", "CBR")
    if mode == "QVBR":
        maxrate = h264["MaxBitrate"]
        level = h264.get("QvbrSettings", {}).get("QvbrQualityLevel", 7)
        args += [
            "-crf",
            str(QVBR_CRF[level]),
            "-maxrate",
            str(maxrate),
            "-bufsize",
            str(h264.get("HrdBufferSize") or 2 * maxrate),
        ]
    elif mode == "CBR":
        rate = h264["Bitrate"]
        args += [
            "-b:v",
            str(rate),
            "-minrate",
            str(rate),
            "-maxrate",
            str(rate),
            "-bufsize",
            str(h264.get("HrdBufferSize") or 2 * rate),
        ]
    else:
        rate = h264["Bitrate"]
        maxrate = h264.get("MaxBitrate") or rate * 3 // 2
        args += ["-b:v", str(rate), "-maxrate", str(maxrate), "-bufsize", str(h264.get("HrdBufferSize") or 2 * maxrate)]
    if "CodecProfile" in h264:
        args += ["-profile:v", h264["CodecProfile"].lower()]
    if h264.get("FramerateControl") == "SPECIFIED":
        fps = h264["FramerateNumerator"] / h264["FramerateDenominator"]
        args += ["-r", f"{h264['FramerateNumerator']}/{h264['FramerateDenominator']}"]
    if "GopSize" in h264:
        frames = h264["GopSize"] * (fps if h264.get("GopSizeUnits") == "SECONDS" else 1)
        args += ["-g", str(max(1, int(round(frames))))]
    if h264.get("SceneChangeDetect") == "DISABLED":
        args += ["-sc_threshold", "0"]
    if "NumberBFramesBetweenReferenceFrames" in h264:
        args += ["-bf", str(h264["NumberBFramesBetweenReferenceFrames"])]
    return args


def _audio_args(descriptions: list[dict[str, Any]] | None) -> list[str]:
    if not descriptions:
        return ["-an"]
    aac = descriptions[0].get("CodecSettings", {}).get("AacSettings", {})
    args = ["-map", "0:v:0?", "-map", "0:a:0", "-c:a", "aac"]
    if "Bitrate" in aac:
        args += ["-b:a", str(aac["Bitrate"])]
    args += ["-ar", str(aac.get("SampleRate", 48000))]
    args += ["-ac", "1" if aac.get("CodingMode") == "CODING_MODE_1_0" else "2"]
    return args


def _file_args(output: dict[str, Any], container: str) -> list[str]:
    args = ["-f", "mp4" if container == "MP4" else "mov"]
    if output.get("ContainerSettings", {}).get("Mp4Settings", {}).get("MoovPlacement") == "PROGRESSIVE_DOWNLOAD":
        args += ["-movflags", "+faststart"]
    return args


def _hls_args(group: dict[str, Any], directory: Path, base: str) -> list[str]:
    args = ["-f", "hls", "-hls_time", str(group.get("SegmentLength", 10)), "-hls_playlist_type", "vod"]
    args += ["-start_number", "1"]  # MediaConvert numbers segments from 00001
    args += ["-hls_segment_filename", str(directory / f"{base}_%05d.ts")]
    if group.get("ManifestDurationFormat", "FLOATING_POINT") == "INTEGER":
        args += ["-hls_flags", "round_durations"]
    return args


def _write_master(path: Path, variants: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for base, output, video in variants:
        h264 = output.get("VideoDescription", {}).get("CodecSettings", {}).get("H264Settings", {})
        bandwidth = h264.get("MaxBitrate") or h264.get("Bitrate") or 0
        for audio in output.get("AudioDescriptions") or []:
            bandwidth += audio.get("CodecSettings", {}).get("AacSettings", {}).get("Bitrate", 0)
        inf = f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}"
        if video:
            inf += f",RESOLUTION={video['width']}x{video['height']}"
        lines += [inf, f"{base}.m3u8"]
    path.write_text("\n".join(lines) + "\n")


def _run_ffmpeg(
    cmd: list[str], duration: float, report: Callable[[float], None], cancel: threading.Event, uri: str
) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killer = threading.Thread(target=_kill_on_cancel, args=(proc, cancel), daemon=True)
    killer.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("out_time_us=") and duration > 0:
            try:
                report(min(1.0, int(line.split("=", 1)[1]) / 1e6 / duration))
            except ValueError:
                pass
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    if cancel.is_set():
        raise JobCanceled()
    if proc.returncode != 0:
        raise JobError(1030, f"Video encoding failed for input [{uri}]: [{stderr.strip()[-400:]}]")


def _kill_on_cancel(proc: subprocess.Popen, cancel: threading.Event) -> None:
    while proc.poll() is None:
        if cancel.wait(0.2):
            proc.kill()
            return
