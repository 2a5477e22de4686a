"""How one output's settings become ffmpeg arguments: the picture (deinterlace, crop, scale, frame
rate, overlays, burned-in captions), the video encoder (libx264, libx265, mjpeg) and the audio
encoder (AAC, MP3). Containers and packaging are in mediaconvert_package."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from include.local_stack.mediaconvert_media import srt_text
from include.local_stack.mediaconvert_rules import video_settings
from include.local_stack.mediaconvert_timeline import DEFAULT_SELECTOR, Timeline, overlay_images

PRESETS = {"SINGLE_PASS": "superfast", "SINGLE_PASS_HQ": "veryfast", "MULTI_PASS_HQ": "faster"}
#: x265's presets cost several times x264's; one step faster keeps a local 2160p encode reasonable
X265_PRESETS = {"SINGLE_PASS": "ultrafast", "SINGLE_PASS_HQ": "superfast", "MULTI_PASS_HQ": "veryfast"}
AQ_STRENGTH = {"AUTO": 1.0, "LOW": 0.6, "MEDIUM": 0.8, "HIGH": 1.0, "HIGHER": 1.3, "MAX": 1.6}
ASS_COLOURS = {
    "WHITE": "FFFFFF",
    "BLACK": "000000",
    "YELLOW": "00FFFF",
    "RED": "0000FF",
    "GREEN": "00FF00",
    "BLUE": "FF0000",
    "AUTO": "FFFFFF",
}  # fmt: skip  (ASS colours are BGR)
LANGUAGE_TAGS = {"ENG": "eng", "SPA": "spa", "FRA": "fra", "DEU": "deu", "GER": "ger", "JPN": "jpn", "ZHO": "zho"}


@dataclass(frozen=True)
class Picture:
    """The output's frame: size, sample aspect ratio and frame rate."""

    width: int
    height: int
    sar: Fraction
    fps: Fraction


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def picture(output: dict[str, Any], timeline: Timeline) -> Picture:
    vd = output.get("VideoDescription") or {}
    crop = vd.get("Crop") or {}
    src_w, src_h = crop.get("Width", timeline.width), crop.get("Height", timeline.height)
    width, height = vd.get("Width"), vd.get("Height")
    if width and not height:
        height = _even(src_h * width / src_w)
    elif height and not width:
        width = _even(src_w * height / src_h)
    elif not width and not height:
        width, height = _even(src_w), _even(src_h)
    _, vs = video_settings(output)
    sar = timeline.sar
    if vs.get("ParControl") == "SPECIFIED":
        sar = Fraction(vs["ParNumerator"], vs["ParDenominator"])
    fps = timeline.fps
    if vs.get("FramerateControl") == "SPECIFIED":
        fps = Fraction(vs["FramerateNumerator"], vs["FramerateDenominator"])
    return Picture(width, height, sar, fps)


def video_graph(
    output: dict[str, Any],
    timeline: Timeline,
    work: Path,
    tag: str,
    images: list[tuple[dict[str, Any], Path]],
    burn_in: tuple[dict[str, Any], list] | None,
) -> tuple[list[str], Picture]:
    """Filter graph lines from [0:v:0] to [vout] for one output, and the picture it makes."""
    vd = output.get("VideoDescription") or {}
    pic = picture(output, timeline)
    codec, vs = video_settings(output)
    chain = []
    deinterlacer = (vd.get("VideoPreprocessors") or {}).get("Deinterlacer")
    if deinterlacer is not None:
        scope = "all" if deinterlacer.get("Control") == "FORCE_ALL_FRAMES" else "interlaced"
        chain.append(f"bwdif=mode=send_frame:parity=auto:deint={scope}")
    crop = vd.get("Crop") or {}
    if crop:
        chain.append(f"crop={crop['Width']}:{crop['Height']}:{crop.get('X', 0)}:{crop.get('Y', 0)}")
    if vd.get("ScalingBehavior", "DEFAULT") == "STRETCH_TO_OUTPUT":
        chain.append(f"scale={pic.width}:{pic.height}")
    else:
        chain.append(
            f"scale={pic.width}:{pic.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
            f"pad={pic.width}:{pic.height}:(ow-iw)/2:(oh-ih)/2:black"
        )
    chain.append(f"setsar={pic.sar}")
    if pic.fps != timeline.fps:
        chain.append(f"fps={pic.fps}")
    lines = [f"[0:v:0]{','.join(chain)}[vpic{tag}]"]
    label = f"[vpic{tag}]"
    if images:
        label = overlay_images(lines, label, images, timeline.start, tag, pic.fps)
    burnin = (vd.get("VideoPreprocessors") or {}).get("TimecodeBurnin")
    if burnin is not None:
        lines.append(f"{label}{_timecode_burnin(burnin, pic, timeline.start)}[vtc{tag}]")
        label = f"[vtc{tag}]"
    if burn_in is not None:
        desc, cues = burn_in
        path = work / f"burn{tag}.srt"
        path.write_text(srt_text(cues))
        style = _burn_in_style(desc.get("DestinationSettings", {}).get("BurninDestinationSettings") or {}, pic)
        lines.append(f"{label}subtitles=filename={path}:force_style='{style}'[vsub{tag}]")
        label = f"[vsub{tag}]"
    pix_fmt = "yuv420p10le" if vs.get("CodecProfile") == "MAIN10_MAIN" else "yuv420p"
    if codec == "FRAME_CAPTURE":
        fc = (vd.get("CodecSettings") or {}).get("FrameCaptureSettings") or {}
        rate = Fraction(fc.get("FramerateNumerator", 1), fc.get("FramerateDenominator", 1))
        lines.append(f"{label}fps={rate}:start_time=0:round=up,format=yuvj420p[vout]")
    else:
        lines.append(f"{label}format={pix_fmt}[vout]")
    return lines, pic


TIMECODE_POSITIONS = {
    "TOP_LEFT": ("10", "10"), "TOP_CENTER": ("(w-tw)/2", "10"), "TOP_RIGHT": ("w-tw-10", "10"),
    "MIDDLE_LEFT": ("10", "(h-th)/2"), "MIDDLE_CENTER": ("(w-tw)/2", "(h-th)/2"), "MIDDLE_RIGHT": ("w-tw-10", "(h-th)/2"),
    "BOTTOM_LEFT": ("10", "h-th-10"), "BOTTOM_CENTER": ("(w-tw)/2", "h-th-10"), "BOTTOM_RIGHT": ("w-tw-10", "h-th-10"),
}  # fmt: skip


def _timecode_burnin(burnin: dict[str, Any], pic: Picture, start: float) -> str:
    """drawtext with a running timecode that starts at the output timeline's first timecode."""
    nominal = round(float(pic.fps)) or 25
    frames = round(start * float(pic.fps))
    ff, seconds = frames % nominal, frames // nominal
    timecode = f"{seconds // 3600:02d}\\:{seconds // 60 % 60:02d}\\:{seconds % 60:02d}\\:{ff:02d}"
    x, y = TIMECODE_POSITIONS[burnin.get("Position", "BOTTOM_CENTER")]
    size = max(8, round(burnin.get("FontSize", 16) * pic.height / 480))
    prefix = burnin.get("Prefix", "").replace("\\", "\\\\").replace("'", "").replace(":", "\\:")
    return (
        f"drawtext=font='DejaVu Sans Mono':text='{prefix}':timecode='{timecode}':rate={pic.fps}:fontsize={size}:"
        f"fontcolor=white:box=1:boxcolor=black@0.6:x={x}:y={y}"
    )


def _burn_in_style(bi: dict[str, Any], pic: Picture) -> str:
    """libass force_style for MediaConvert's burn-in settings (libass sizes are in 288-line units)."""
    style = ["FontName=DejaVu Sans"]
    if bi.get("FontSize"):
        style.append(f"Fontsize={bi['FontSize'] * 288 / pic.height:.1f}")
    alpha = f"{255 - bi.get('FontOpacity', 255):02X}"
    style.append(f"PrimaryColour=&H{alpha}{ASS_COLOURS[bi.get('FontColor', 'WHITE')]}")
    style.append(f"OutlineColour=&H00{ASS_COLOURS[bi.get('OutlineColor', 'BLACK')]}")
    if "OutlineSize" in bi:
        style.append(f"Outline={bi['OutlineSize']}")
    shadow = bi.get("ShadowColor", "NONE")
    if shadow not in ("NONE",):
        shadow_alpha = f"{255 - bi.get('ShadowOpacity', 255):02X}"
        style.append(f"BackColour=&H{shadow_alpha}{ASS_COLOURS.get(shadow, '000000')}")
        style.append(f"Shadow={max(abs(bi.get('ShadowXOffset', 2)), abs(bi.get('ShadowYOffset', 2)))}")
    else:
        style.append("Shadow=0")
    style.append(f"Alignment={1 if bi.get('Alignment') == 'LEFT' else 2}")
    return ",".join(style)


def gop_frames(vs: dict[str, Any], fps: Fraction) -> int | None:
    if "GopSize" not in vs or vs.get("GopSizeUnits") == "AUTO":
        return None
    size = vs["GopSize"]
    frames = size * float(fps) if vs.get("GopSizeUnits") == "SECONDS" else size
    return max(1, int(round(frames)))


def video_codec_args(output: dict[str, Any], pic: Picture, segment_length: float | None) -> list[str]:
    codec, vs = video_settings(output)
    if codec == "FRAME_CAPTURE":
        fc = output["VideoDescription"]["CodecSettings"].get("FrameCaptureSettings") or {}
        quality = fc.get("Quality", 80)
        return ["-c:v", "mjpeg", "-q:v", str(max(2, min(31, round(2 + (100 - quality) * 29 / 99))))]
    h265 = codec == "H_265"
    preset = (X265_PRESETS if h265 else PRESETS)[vs.get("QualityTuningLevel", "SINGLE_PASS_HQ")]
    args = ["-c:v", "libx265" if h265 else "libx264", "-preset", preset]
    params: list[str] = ["log-level=error"] if h265 else []
    mode = vs.get("RateControlMode", "CBR")
    peak = vs.get("MaxBitrate") or vs.get("Bitrate")
    buffer = vs.get("HrdBufferSize") or 2 * (peak or 0)
    if mode == "QVBR":
        qvbr = vs.get("QvbrSettings") or {}
        level = qvbr.get("QvbrQualityLevel", 7) + qvbr.get("QvbrQualityLevelFineTune", 0)
        crf = 37 - 2 * level + (5 if h265 else 0)  # level 7: 23 (x264's default), 28 (x265's)
        args += ["-crf", f"{crf:.2f}", "-maxrate", str(vs["MaxBitrate"]), "-bufsize", str(buffer)]
    elif mode == "CBR":
        rate = vs["Bitrate"]
        args += ["-b:v", str(rate), "-minrate", str(rate), "-maxrate", str(rate), "-bufsize", str(buffer)]
        params.append("strict-cbr=1" if h265 else "nal-hrd=cbr")
    else:
        args += ["-b:v", str(vs["Bitrate"]), "-maxrate", str(peak), "-bufsize", str(buffer)]
    if "HrdBufferInitialFillPercentage" in vs:
        params.append(f"vbv-init={vs['HrdBufferInitialFillPercentage'] / 100:.2f}")
    profile = vs.get("CodecProfile")
    if profile:
        args += ["-profile:v", {"MAIN_MAIN": "main", "MAIN10_MAIN": "main10"}.get(profile, profile.lower())]
    level = vs.get("CodecLevel", "AUTO")
    if level != "AUTO":
        number = level.removeprefix("LEVEL_").replace("_", ".")
        if h265:
            params.append(f"level-idc={number}")
        else:
            args += ["-level", number]
    gop = gop_frames(vs, pic.fps)
    if gop:
        args += ["-g", str(gop)]
    if vs.get("SceneChangeDetect") == "DISABLED":
        params.append("scenecut=0")
    if "NumberBFramesBetweenReferenceFrames" in vs:
        args += ["-bf", str(vs["NumberBFramesBetweenReferenceFrames"])]
    if "NumberReferenceFrames" in vs:
        args += ["-refs", str(vs["NumberReferenceFrames"])]
    if "Slices" in vs:
        params.append(f"slices={vs['Slices']}")
    if "GopBReference" in vs:
        enabled = vs["GopBReference"] == "ENABLED"
        params.append(f"b-pyramid={int(enabled)}" if h265 else f"b-pyramid={'normal' if enabled else 'none'}")
    if "DynamicSubGop" in vs:
        params.append(f"b-adapt={2 if vs['DynamicSubGop'] == 'ADAPTIVE' else 0}")
    aq = vs.get("AdaptiveQuantization")
    if aq == "OFF":
        params.append("aq-mode=0")
    elif aq:
        params.append(f"aq-strength={AQ_STRENGTH[aq]}")
    if not h265 and vs.get("EntropyEncoding"):
        args += ["-coder", "cabac" if vs["EntropyEncoding"] == "CABAC" else "cavlc"]
    if h265:
        args += ["-tag:v", "hev1" if vs.get("WriteMp4PackagingType") == "HEV1" else "hvc1"]
    if segment_length:
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{segment_length})"]
    if params:
        args += ["-x265-params" if h265 else "-x264-params", ":".join(params)]
    return args


def audio_args(desc: dict[str, Any], timeline: Timeline, selectors: dict[str, dict], index: int = 0) -> list[str]:
    """Map the selector's mezzanine stream and encode it as the description asks."""
    name = desc.get("AudioSourceName") or DEFAULT_SELECTOR
    args = ["-map", f"0:a:{timeline.audio[name]}"]
    cs = desc.get("CodecSettings") or {}
    stream = f":a:{index}"
    if cs.get("Codec") == "MP3":
        mp3 = cs.get("Mp3Settings") or {}
        args += [f"-c{stream}", "libmp3lame", f"-ar{stream}", str(mp3.get("SampleRate", 48000))]
        args += [f"-ac{stream}", str(mp3.get("Channels", 2))]
        if mp3.get("RateControlMode", "CBR") == "VBR":
            args += [f"-q{stream}", str(mp3.get("VbrQuality", 4))]
        else:
            args += [f"-b{stream}", str(mp3.get("Bitrate", 128000))]
    else:
        aac = cs.get("AacSettings") or {}
        args += [f"-c{stream}", "aac", f"-b{stream}", str(aac.get("Bitrate", 96000))]
        args += [f"-ar{stream}", str(aac.get("SampleRate", 48000))]
        args += [f"-ac{stream}", "1" if aac.get("CodingMode") == "CODING_MODE_1_0" else "2"]
    language = _language(desc, selectors.get(name) or {})
    if language:
        args += [f"-metadata:s{stream}", f"language={language}"]
    if desc.get("StreamName"):
        args += [f"-metadata:s{stream}", f"title={desc['StreamName']}"]
    return args


def _language(desc: dict[str, Any], selector: dict[str, Any]) -> str | None:
    if desc.get("LanguageCodeControl") == "USE_CONFIGURED":
        code = desc.get("CustomLanguageCode") or desc.get("LanguageCode")
    else:
        code = selector.get("CustomLanguageCode") or selector.get("LanguageCode")
    return LANGUAGE_TAGS.get(code.upper(), code.lower()) if code else None
