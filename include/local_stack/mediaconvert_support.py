"""What the local MediaConvert service does with each job setting, and the check that refuses a job.

Every setting a job may carry is, in this table, either

* **honoured**: the engine produces what MediaConvert would (the `how` says with what), or
* **ignored** at the listed values, because at those values it changes nothing in the outputs the
  service writes (the `why` says why), or
* **refused**: any other value, and any setting the table does not list. A refusal names every
  such field in one BadRequestException, by its path in the request (`/outputGroups/0/outputs/1/...`),
  so a job is fixed in one round instead of one field at a time.

`check_settings` applies the table and the cross-field rules the table cannot express (a DASH
output carries one stream, captions selectors must exist, ...). `support_markdown` renders the
table for docs/dags/mediaconvert_transcode.md; a test keeps the page equal to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from include.local_stack.mediaconvert_wire import model

ANY = "any value"


@dataclass
class Setting:
    """One setting (a path with `[]` for list items and `*` for map values)."""

    path: str
    section: str
    honoured: tuple[Any, ...] = ()
    how: str = ""
    ignored: tuple[Any, ...] = ()
    why: str = ""
    refused: dict[Any, str] = field(default_factory=dict)

    def verdict(self, value: Any) -> tuple[str, str]:
        """("honoured" | "ignored" | "refused", reason) for one value."""
        key = tuple(value) if isinstance(value, list) else value
        if ANY in self.honoured or key in self.honoured:
            return "honoured", self.how
        if ANY in self.ignored or key in self.ignored:
            return "ignored", self.why
        if key in self.refused:
            return "refused", self.refused[key]
        allowed = [str(v) for v in self.honoured + self.ignored]
        return "refused", f"the local service supports {', '.join(allowed) or 'no value'} here"


SETTINGS: dict[str, Setting] = {}
_SECTION = ["Job"]


def _add(path: str, **kw: Any) -> None:
    entry = SETTINGS.setdefault(path, Setting(path, _SECTION[0]))
    for key, value in kw.items():
        if key == "refused":
            entry.refused.update(value)
        elif isinstance(value, tuple):
            setattr(entry, key, getattr(entry, key) + value)
        else:
            setattr(entry, key, value)


def honour(path: str, values: tuple[Any, ...] = (ANY,), how: str = "") -> None:
    _add(path, honoured=values, how=how)


def ignore(path: str, values: tuple[Any, ...], why: str) -> None:
    _add(path, ignored=values, why=why)


def refuse(path: str, reasons: dict[Any, str]) -> None:
    _add(path, refused=reasons)


def section(name: str) -> None:
    _SECTION[0] = name


def rectangle(path: str, how: str) -> None:
    for member in ("X", "Y", "Width", "Height"):
        honour(f"{path}.{member}", how=how)


# ================================================================================================
section("Job")
honour(
    "TimecodeConfig.Source",
    ("ZEROBASED", "EMBEDDED", "SPECIFIEDSTART"),
    "the output timeline's start, used to place output overlays (StartTime)",
)
honour("TimecodeConfig.Start", how="start of the output timeline with SPECIFIEDSTART")
ignore("AdAvailOffset", (0,), "0 moves no ad avail; file inputs carry no SCTE-35 avails")
ignore("FollowSource", (1,), "outputs follow the first input's video, which is what 1 selects")

section("Inputs")
IN = "Inputs[]"
honour(f"{IN}.FileInput", how="s3:// object read from the S3 endpoint")
honour(
    f"{IN}.TimecodeSource",
    ("ZEROBASED", "EMBEDDED", "SPECIFIEDSTART"),
    "timeline that clip timecodes and input overlay start times refer to (EMBEDDED: the input's timecode "
    "tag, 00:00:00:00 without one)",
)
honour(f"{IN}.TimecodeStart", how="first frame's timecode with SPECIFIEDSTART")
honour(f"{IN}.InputClippings[].StartTimecode", how="first frame of a clip (HH:MM:SS:FF, inclusive)")
honour(f"{IN}.InputClippings[].EndTimecode", how="last frame of a clip (inclusive); clips are joined in order")
rectangle(f"{IN}.Crop", "input crop rectangle, before scaling")
ignore(f"{IN}.DeblockFilter", ("DISABLED",), "applies no deblocking")
ignore(f"{IN}.DenoiseFilter", ("DISABLED",), "applies no denoising")
ignore(
    f"{IN}.FilterEnable",
    ("AUTO", "DISABLE"),
    "AUTO filters only inputs that need deblocking or denoising, which are disabled here; DISABLE filters none",
)
ignore(f"{IN}.FilterStrength", (ANY,), "strength of the deblock and denoise filters, which are not applied")
ignore(f"{IN}.PsiControl", ("USE_PSI",), "transport-stream inputs are read through their PAT/PMT, as ffmpeg does")
ignore(f"{IN}.InputScanType", ("AUTO",), "the scan type is read from the input")
ignore(f"{IN}.AdvancedInputFilter", ("DISABLED",), "applies no advanced filter")
ignore(f"{IN}.ProgramNumber", (1,), "file inputs carry one program, which 1 selects")
VS = f"{IN}.VideoSelector"
ignore(f"{VS}.ColorSpace", ("FOLLOW",), "colour space is taken from the input, as ffmpeg does")
ignore(f"{VS}.ColorSpaceUsage", ("FALLBACK",), "the input's own colour metadata is used when present")
ignore(f"{VS}.AlphaBehavior", ("DISCARD",), "outputs are 4:2:0 without alpha, so alpha is discarded either way")
ignore(f"{VS}.EmbeddedTimecodeOverride", ("NONE",), "no timecode override")
ignore(f"{VS}.PadVideo", ("DISABLED",), "adds no black video to audio-only stretches")
honour(
    f"{VS}.Rotate",
    ("DEGREE_0", "DEGREE_90", "DEGREE_180", "DEGREE_270", "AUTO"),
    "clockwise rotation; AUTO follows the input's display matrix, DEGREE_0 ignores it",
)
AS = f"{IN}.AudioSelectors.*"
honour(
    f"{AS}.DefaultSelection",
    ("DEFAULT", "NOT_DEFAULT"),
    "DEFAULT marks the selector used where an output names no selector, or one this input lacks",
)
honour(f"{AS}.Offset", how="milliseconds; a positive offset delays the audio, a negative one advances it")
ignore(f"{AS}.ProgramSelection", (0, 1), "file inputs carry one audio program, which 0 and 1 select")
honour(f"{AS}.SelectorType", ("TRACK",), "audio tracks counted from 1 among the input's audio streams")
honour(f"{AS}.Tracks", how="one track number (combining tracks is refused)")
honour(f"{AS}.ExternalAudioFileInput", how="s3:// audio file used instead of the input's audio, clipped with it")
honour(f"{AS}.LanguageCode", how="language given to outputs that follow the input's language")
honour(f"{AS}.CustomLanguageCode", how="language given to outputs that follow the input's language")
ignore(f"{AS}.AudioDurationCorrection", ("DISABLED",), "no duration correction")
CS = f"{IN}.CaptionSelectors.*"
honour(f"{CS}.SourceSettings.SourceType", ("SRT", "WEBVTT"), "sidecar SRT or WebVTT file")
refuse(
    f"{CS}.SourceSettings.SourceType",
    {
        k: "the local service reads SRT and WebVTT sidecar captions only"
        for k in ("SCC", "TTML", "EMBEDDED", "SMI", "STL", "IMSC", "SMPTE_TT")
    },
)
FS = f"{CS}.SourceSettings.FileSourceSettings"
honour(f"{FS}.SourceFile", how="s3:// captions file; cues follow the input's clips")
honour(f"{FS}.TimeDelta", how="shifts every cue")
honour(f"{FS}.TimeDeltaUnits", ("SECONDS", "MILLISECONDS"), "unit of TimeDelta")
ignore(f"{FS}.Convert608To708", (ANY,), "applies to SCC sources only")
ignore(f"{FS}.Framerate", (ANY,), "applies to SCC timecodes only")
honour(f"{CS}.LanguageCode", how="language of sidecar and HLS captions outputs")
honour(f"{CS}.CustomLanguageCode", how="language of sidecar and HLS captions outputs")

section("Image overlays (input and output)")
for root in (f"{IN}.ImageInserter", "OutputGroups[].Outputs[].VideoDescription.VideoPreprocessors.ImageInserter"):
    II = f"{root}.InsertableImages[]"
    honour(f"{II}.ImageInserterInput", how="s3:// PNG or TGA composited with ffmpeg's overlay filter")
    honour(f"{II}.ImageX", how="left edge in pixels")
    honour(f"{II}.ImageY", how="top edge in pixels")
    honour(f"{II}.Layer", how="stacking order, higher on top")
    honour(f"{II}.Opacity", how="0-100, multiplies the image's alpha")
    honour(f"{II}.Width", how="image scaled to this width")
    honour(f"{II}.Height", how="image scaled to this height")
    honour(f"{II}.StartTime", how="HH:MM:SS:FF on the input (input overlays) or output (output overlays) timeline")
    honour(f"{II}.Duration", how="milliseconds the image stays")
    ignore(f"{II}.FadeIn", (0,), "no fade")
    ignore(f"{II}.FadeOut", (0,), "no fade")
    ignore(f"{root}.SdrReferenceWhiteLevel", (ANY,), "applies to HDR outputs only, which are refused")

section("Output groups")
OG = "OutputGroups[]"
OGS = f"{OG}.OutputGroupSettings"
G_HLS = f"{OGS}.HlsGroupSettings"
G_DASH = f"{OGS}.DashIsoGroupSettings"
G_CMAF = f"{OGS}.CmafGroupSettings"
ignore(f"{OG}.Name", (ANY,), "a label in the console; names no output")
ignore(f"{OG}.CustomName", (ANY,), "a label in the console; names no output")
honour(f"{OGS}.Type", ("FILE_GROUP_SETTINGS", "HLS_GROUP_SETTINGS", "DASH_ISO_GROUP_SETTINGS", "CMAF_GROUP_SETTINGS"))
refuse(f"{OGS}.Type", {"MS_SMOOTH_GROUP_SETTINGS": "Microsoft Smooth Streaming is not written by the local service"})
for member in ("FileGroupSettings", "HlsGroupSettings", "DashIsoGroupSettings", "CmafGroupSettings"):
    G = f"{OGS}.{member}"
    honour(f"{G}.Destination", how="s3:// prefix (ending in /) or prefix plus base name; format identifiers resolved")
    D = f"{G}.DestinationSettings.S3Settings"
    honour(f"{D}.AccessControl.CannedAcl", how="canned ACL on every object written")
    honour(f"{D}.Encryption.EncryptionType", ("SERVER_SIDE_ENCRYPTION_S3",), "SSE-S3 on every object written")
    refuse(f"{D}.Encryption.EncryptionType", {"SERVER_SIDE_ENCRYPTION_KMS": "SSE-KMS is not applied locally"})
    honour(f"{D}.StorageClass", how="storage class of every object written")
    if member == "FileGroupSettings":
        continue
    honour(f"{G}.SegmentLength", how="segments cut exactly at this length (keyframes forced at the boundaries)")
    honour(f"{G}.MinFinalSegmentLength", how="a shorter last segment is joined to the one before")
    honour(f"{G}.SegmentLengthControl", ("EXACT",), "segments of exactly SegmentLength seconds")
    if member in ("HlsGroupSettings", "CmafGroupSettings"):
        honour(f"{G}.ManifestDurationFormat", ("INTEGER", "FLOATING_POINT"), "EXTINF written as integers or decimals")
        honour(f"{G}.StreamInfResolution", ("INCLUDE", "EXCLUDE"), "RESOLUTION in the master playlist")
        honour(
            f"{G}.CodecSpecification",
            ("RFC_4281", "RFC_6381"),
            "CODECS in the master playlist (the two give the same strings for H.264, H.265 and AAC-LC)",
        )
        honour(f"{G}.ClientCache", ("ENABLED", "DISABLED"), "DISABLED writes #EXT-X-ALLOW-CACHE:NO")
        ignore(f"{G}.ManifestCompression", ("NONE",), "manifests are not compressed")
        honour(
            f"{G}.TargetDurationCompatibilityMode",
            ("LEGACY", "SPEC_COMPLIANT"),
            "EXT-X-TARGETDURATION rounded to nearest (LEGACY) or up (SPEC_COMPLIANT)",
        )
    if member in ("DashIsoGroupSettings", "CmafGroupSettings"):
        honour(f"{G}.FragmentLength", how="fragments (moof/mdat pairs) of this length inside each segment")
        honour(f"{G}.SegmentControl", ("SEGMENTED_FILES",), "one init segment and numbered media segments per output")
        refuse(f"{G}.SegmentControl", {"SINGLE_FILE": "the local service writes segmented DASH and CMAF only"})
        honour(f"{G}.MpdProfile", ("MAIN_PROFILE",), "urn:mpeg:dash:profile:isoff-main:2011")
        refuse(f"{G}.MpdProfile", {"ON_DEMAND_PROFILE": "the on-demand profile needs SINGLE_FILE, which is refused"})
        honour(f"{G}.MinBufferTime", how="MPD minBufferTime, milliseconds")
        honour(
            f"{G}.WriteSegmentTimelineInRepresentation",
            ("ENABLED", "DISABLED"),
            "SegmentTimeline per Representation, or SegmentTemplate@duration",
        )
        honour(f"{G}.MpdManifestBandwidthType", ("MAX", "AVERAGE"), "Representation@bandwidth from peak or mean")
        ignore(f"{G}.PtsOffsetHandlingForBFrames", ("ZERO_BASED",), "segments' timelines start at zero")
        ignore(f"{G}.ImageBasedTrickPlay", ("NONE",), "no trick-play images")
        ignore(f"{G}.DashManifestStyle", ("BASIC",), "one SegmentTemplate per Representation")
honour(f"{G_CMAF}.WriteHlsManifest", ("ENABLED", "DISABLED"), "master and per-output HLS playlists")
honour(f"{G_CMAF}.WriteDashManifest", ("ENABLED", "DISABLED"), "the .mpd manifest")
ignore(f"{G_DASH}.HbbtvCompliance", ("NONE",), "no HbbTV signalling")
ignore(
    f"{G_DASH}.AudioChannelConfigSchemeIdUri",
    ("MPEG_CHANNEL_CONFIGURATION",),
    "the MPEG channel configuration scheme, the one written for AAC",
)
ignore(f"{G_HLS}.ImageBasedTrickPlay", ("NONE",), "no trick-play images")
honour(
    f"{G_HLS}.SegmentControl",
    ("SEGMENTED_FILES", "SINGLE_FILE"),
    "numbered .ts segments, or one .ts per output addressed with EXT-X-BYTERANGE",
)
honour(f"{G_HLS}.DirectoryStructure", ("SINGLE_DIRECTORY",), "every file of the group in the destination folder")
honour(f"{G_HLS}.OutputSelection", ("MANIFESTS_AND_SEGMENTS", "SEGMENTS_ONLY"), "SEGMENTS_ONLY writes no playlist")
ignore(f"{G_HLS}.MinSegmentLength", (0,), "0 sets no minimum segment length")
ignore(f"{G_HLS}.ProgramDateTime", ("EXCLUDE",), "writes no EXT-X-PROGRAM-DATE-TIME")
ignore(f"{G_HLS}.ProgramDateTimePeriod", (ANY,), "used only with ProgramDateTime INCLUDE")
ignore(
    f"{G_HLS}.TimedMetadataId3Frame",
    (ANY,),
    "ID3 timestamps are written only when an output sets TimedMetadata PASSTHROUGH, which is refused",
)
ignore(f"{G_HLS}.TimedMetadataId3Period", (ANY,), "as TimedMetadataId3Frame")
ignore(f"{G_HLS}.CaptionLanguageSetting", ("OMIT",), "writes no CLOSED-CAPTIONS attribute (it describes 608 captions)")
honour(f"{G_HLS}.CaptionLanguageSetting", ("NONE",), "CLOSED-CAPTIONS=NONE on each variant")
honour(
    f"{G_HLS}.AudioOnlyHeader",
    ("INCLUDE", "EXCLUDE"),
    "ID3 timestamp (com.apple.streaming.transportStreamTimestamp) at the start of raw audio segments",
)
honour(
    f"{G_HLS}.CaptionSegmentLengthControl",
    ("LARGE_SEGMENTS", "MATCH_VIDEO"),
    "WebVTT segments of 300 s, or of SegmentLength",
)
ignore(f"{G_HLS}.ProgressiveWriteHlsManifest", (ANY,), "when the playlist is written; the final playlist is the same")
ignore(f"{G_HLS}.SegmentsPerSubdirectory", (ANY,), "used only with SUBDIRECTORY_PER_STREAM, which is refused")
AB = f"{OG}.AutomatedEncodingSettings.AbrSettings"
honour(f"{AB}.MaxRenditions", how="approximation: a ladder from the input's size down, never above it (see below)")
honour(f"{AB}.MaxAbrBitrate", how="approximation: top rendition's QVBR max bitrate")
honour(f"{AB}.MinAbrBitrate", how="approximation: lowest rendition's QVBR max bitrate")

section("Outputs and containers")
OUT = f"{OG}.Outputs[]"
honour(f"{OUT}.NameModifier", how="appended to the base name; format identifiers resolved")
honour(f"{OUT}.Extension", how="extension of file group outputs (MediaConvert uses it nowhere else)")
honour(
    f"{OUT}.ContainerSettings.Container",
    ("MP4", "MOV", "RAW", "M3U8", "MPD", "CMFC"),
    "MP4/MOV files, RAW (frame captures, audio-only, sidecar captions), HLS TS, DASH and CMAF fMP4",
)
MP4 = f"{OUT}.ContainerSettings.Mp4Settings"
honour(f"{MP4}.MoovPlacement", ("PROGRESSIVE_DOWNLOAD", "NORMAL"), "moov atom first (faststart) or last")
ignore(
    f"{MP4}.CslgAtom",
    ("INCLUDE", "EXCLUDE"),
    "the composition-shift box only describes B-frame reordering, which the edit list already signals",
)
ignore(f"{MP4}.FreeSpaceBox", ("EXCLUDE",), "writes no free-space box")
honour(f"{MP4}.Mp4MajorBrand", how="ftyp major brand")
ignore(f"{MP4}.AudioDuration", ("DEFAULT_CODEC_DURATION",), "audio keeps its codec duration")
MOV = f"{OUT}.ContainerSettings.MovSettings"
ignore(f"{MOV}.ClapAtom", ("EXCLUDE",), "writes no clean-aperture atom")
ignore(f"{MOV}.CslgAtom", ("INCLUDE", "EXCLUDE"), "as for MP4")
ignore(f"{MOV}.Mpeg2FourCCControl", (ANY,), "applies to MPEG-2 video, which is refused")
ignore(f"{MOV}.PaddingControl", ("NONE",), "no padding")
ignore(f"{MOV}.Reference", ("SELF_CONTAINED",), "media is inside the file")
M3 = f"{OUT}.ContainerSettings.M3u8Settings"
honour(f"{M3}.PmtPid", how="PID of the PMT")
honour(f"{M3}.VideoPid", how="PID of the video stream")
honour(f"{M3}.AudioPids", how="PID of the audio stream (the first of the list)")
honour(f"{M3}.ProgramNumber", how="program (service) number")
honour(f"{M3}.TransportStreamId", how="transport stream id")
ignore(f"{M3}.PatInterval", (ANY,), "how often PAT repeats; every segment starts with one either way")
ignore(f"{M3}.PmtInterval", (ANY,), "how often PMT repeats; every segment starts with one either way")
ignore(f"{M3}.AudioFramesPerPes", (ANY,), "packing of audio frames into PES packets; the audio is the same")
ignore(f"{M3}.PcrControl", (ANY,), "where PCRs are placed; timestamps are the same")
ignore(f"{M3}.MaxPcrInterval", (ANY,), "as PcrControl")
ignore(f"{M3}.PrivateMetadataPid", (ANY,), "used only for private metadata passthrough, which is not written")
ignore(f"{M3}.Scte35Pid", (ANY,), "used only with Scte35Source PASSTHROUGH")
ignore(f"{M3}.TimedMetadataPid", (ANY,), "used only with TimedMetadata PASSTHROUGH")
ignore(f"{M3}.Scte35Source", ("NONE",), "writes no SCTE-35")
ignore(f"{M3}.NielsenId3", ("NONE",), "writes no Nielsen ID3")
ignore(f"{M3}.TimedMetadata", ("NONE",), "writes no timed metadata")
ignore(f"{M3}.AudioDuration", ("DEFAULT_CODEC_DURATION",), "audio keeps its codec duration")
ignore(f"{M3}.DataPTSControl", ("AUTO",), "no data streams are written")
for C in (f"{OUT}.ContainerSettings.CmfcSettings", f"{OUT}.OutputSettings.HlsSettings"):
    honour(f"{C}.AudioGroupId", how="GROUP-ID of this audio rendition in the master playlist")
    honour(f"{C}.AudioRenditionSets", how="AUDIO group a video variant refers to")
    honour(
        f"{C}.AudioTrackType",
        ("ALTERNATE_AUDIO_AUTO_SELECT_DEFAULT", "ALTERNATE_AUDIO_AUTO_SELECT", "ALTERNATE_AUDIO_NOT_AUTO_SELECT"),
        "DEFAULT and AUTOSELECT of the EXT-X-MEDIA line",
    )
    ignore(f"{C}.IFrameOnlyManifest", ("EXCLUDE",), "writes no I-frame playlist")
    ignore(f"{C}.DescriptiveVideoServiceFlag", ("DONT_FLAG",), "no DVS flag")
CM = f"{OUT}.ContainerSettings.CmfcSettings"
ignore(f"{CM}.Scte35Source", ("NONE",), "writes no SCTE-35")
ignore(f"{CM}.Scte35Esam", ("NONE",), "writes no ESAM")
ignore(f"{CM}.AudioDuration", ("DEFAULT_CODEC_DURATION",), "audio keeps its codec duration")
ignore(f"{CM}.TimedMetadata", ("NONE",), "writes no timed metadata")
ignore(f"{CM}.KlvMetadata", ("NONE",), "writes no KLV")
ignore(f"{CM}.ManifestMetadataSignaling", ("DISABLED",), "signals no metadata")
MPD = f"{OUT}.ContainerSettings.MpdSettings"
ignore(f"{MPD}.CaptionContainerType", (ANY,), "used only by captions outputs, which DASH groups refuse")
ignore(f"{MPD}.AccessibilityCaptionHints", ("EXCLUDE",), "writes no accessibility hint")
ignore(f"{MPD}.Scte35Source", ("NONE",), "writes no SCTE-35")
ignore(f"{MPD}.Scte35Esam", ("NONE",), "writes no ESAM")
ignore(f"{MPD}.AudioDuration", ("DEFAULT_CODEC_DURATION",), "audio keeps its codec duration")
ignore(f"{MPD}.TimedMetadata", ("NONE",), "writes no timed metadata")
ignore(f"{MPD}.KlvMetadata", ("NONE",), "writes no KLV")
ignore(f"{MPD}.ManifestMetadataSignaling", ("DISABLED",), "signals no metadata")
HS = f"{OUT}.OutputSettings.HlsSettings"
honour(f"{HS}.AudioOnlyContainer", ("AUTOMATIC", "M2TS"), "raw .aac segments, or .ts")
honour(f"{HS}.SegmentModifier", how="added between the name modifier and the segment number; identifiers resolved")

section("Video")
VD = f"{OUT}.VideoDescription"
honour(f"{VD}.Width", how="output width; with only one of Width/Height the other keeps the aspect ratio")
honour(f"{VD}.Height", how="output height")
honour(
    f"{VD}.ScalingBehavior",
    ("DEFAULT", "STRETCH_TO_OUTPUT"),
    "DEFAULT fits the picture and pads with black (letterbox/pillarbox); STRETCH_TO_OUTPUT stretches",
)
ignore(f"{VD}.AntiAlias", ("ENABLED",), "ffmpeg's scaler always filters (bicubic)")
ignore(
    f"{VD}.Sharpness",
    (ANY,),
    "width of the scaling filter's kernel: picture detail only; size, timing and codec are unchanged",
)
ignore(f"{VD}.TimecodeInsertion", ("DISABLED",), "writes no timecode")
ignore(f"{VD}.AfdSignaling", ("NONE",), "writes no AFD")
ignore(f"{VD}.RespondToAfd", ("NONE",), "input AFD is not acted on")
ignore(f"{VD}.DropFrameTimecode", ("ENABLED", "DISABLED"), "affects timecode, which the outputs do not carry")
honour(f"{VD}.ColorMetadata", ("INSERT",), "the input's colour description is written, as ffmpeg does")
rectangle(f"{VD}.Crop", "output crop rectangle (on the input picture), before scaling")
VP = f"{VD}.VideoPreprocessors"
honour(f"{VP}.Deinterlacer.Mode", ("DEINTERLACE", "ADAPTIVE"), "bwdif, one frame per frame")
honour(f"{VP}.Deinterlacer.Algorithm", ("INTERPOLATE", "INTERPOLATE_TICKER"), "motion-adaptive interpolation (bwdif)")
refuse(
    f"{VP}.Deinterlacer.Algorithm",
    {
        k: "blending deinterlacers have no ffmpeg equivalent that honours Control"
        for k in ("BLEND", "BLEND_TICKER", "LINEAR_INTERPOLATION")
    },
)
honour(
    f"{VP}.Deinterlacer.Control",
    ("NORMAL", "FORCE_ALL_FRAMES"),
    "NORMAL deinterlaces frames flagged interlaced, FORCE_ALL_FRAMES every frame",
)
refuse(f"{VP}.Deinterlacer.Mode", {"INVERSE_TELECINE": "inverse telecine is not done locally"})
honour(f"{VP}.TimecodeBurnin.Prefix", how="text drawn before the timecode")
honour(f"{VP}.TimecodeBurnin.FontSize", how="10, 16, 32 or 48, in lines of a 480-line picture (scaled to the output)")
honour(f"{VP}.TimecodeBurnin.Position", how="where the timecode is drawn (drawtext)")
ignore(f"{VP}.ColorCorrector.Brightness", (50,), "50 leaves brightness unchanged")
ignore(f"{VP}.ColorCorrector.Contrast", (50,), "50 leaves contrast unchanged")
ignore(f"{VP}.ColorCorrector.Saturation", (50,), "50 leaves saturation unchanged")
ignore(f"{VP}.ColorCorrector.Hue", (0,), "0 leaves hue unchanged")
ignore(f"{VP}.ColorCorrector.ColorSpaceConversion", ("NONE",), "no conversion")
honour(f"{VD}.CodecSettings.Codec", ("H_264", "H_265", "FRAME_CAPTURE"), "libx264, libx265, JPEG frame captures")
FC = f"{VD}.CodecSettings.FrameCaptureSettings"
honour(f"{FC}.FramerateNumerator", how="captures per FramerateDenominator seconds, the first frame included")
honour(f"{FC}.FramerateDenominator")
honour(f"{FC}.MaxCaptures", how="at most this many captures")
honour(f"{FC}.Quality", how="JPEG quality, mapped onto ffmpeg's mjpeg quantiser (approximate)")

for codec in ("H264Settings", "H265Settings"):
    section("H.264" if codec == "H264Settings" else "H.265")
    V = f"{VD}.CodecSettings.{codec}"
    honour(
        f"{V}.RateControlMode",
        ("CBR", "VBR", "QVBR"),
        "CBR: constant bitrate with HRD buffer; VBR: average with peak; QVBR: constant quality (CRF) capped "
        "at MaxBitrate",
    )
    honour(f"{V}.Bitrate", how="target (CBR, VBR) bitrate")
    honour(f"{V}.MaxBitrate", how="peak bitrate (VBR, QVBR)")
    honour(f"{V}.HrdBufferSize", how="VBV buffer size (default twice the peak bitrate)")
    honour(f"{V}.HrdBufferInitialFillPercentage", how="VBV initial fill")
    honour(f"{V}.QvbrSettings.QvbrQualityLevel", how="CRF = 37 - 2 x level (7 -> 23, ffmpeg's default); absent: 7")
    honour(f"{V}.QvbrSettings.QvbrQualityLevelFineTune", how="fraction added to the level")
    honour(f"{V}.GopSize", how="keyframe interval")
    honour(f"{V}.GopSizeUnits", ("FRAMES", "SECONDS"), "unit of GopSize")
    ignore(f"{V}.GopClosedCadence", (1,), "every GOP is closed, as the encoder writes them")
    honour(f"{V}.NumberBFramesBetweenReferenceFrames", how="B-frames between reference frames")
    honour(f"{V}.NumberReferenceFrames", how="reference frames")
    honour(f"{V}.Slices", how="slices per picture")
    honour(f"{V}.GopBReference", ("ENABLED", "DISABLED"), "B-frames used as references (B-pyramid) or not")
    honour(f"{V}.DynamicSubGop", ("ADAPTIVE", "STATIC"), "adaptive or fixed B-frame placement")
    honour(
        f"{V}.SceneChangeDetect",
        ("ENABLED", "TRANSITION_DETECTION", "DISABLED"),
        "keyframes on scene cuts, or none (DISABLED)",
    )
    ignore(f"{V}.MinIInterval", (0,), "no minimum distance between scene-cut and cadence keyframes")
    honour(f"{V}.FramerateControl", ("INITIALIZE_FROM_SOURCE", "SPECIFIED"), "source frame rate or the fraction below")
    honour(f"{V}.FramerateNumerator")
    honour(f"{V}.FramerateDenominator")
    honour(f"{V}.FramerateConversionAlgorithm", ("DUPLICATE_DROP",), "frames duplicated or dropped (fps filter)")
    refuse(
        f"{V}.FramerateConversionAlgorithm",
        {
            "INTERPOLATE": "motion-interpolated rate conversion is not done locally",
            "FRAMEFORMER": "FrameFormer is not available locally",
        },
    )
    honour(f"{V}.ParControl", ("INITIALIZE_FROM_SOURCE", "SPECIFIED"), "sample aspect ratio of the source, or below")
    honour(f"{V}.ParNumerator")
    honour(f"{V}.ParDenominator")
    honour(f"{V}.InterlaceMode", ("PROGRESSIVE",), "progressive pictures")
    ignore(f"{V}.Telecine", ("NONE",), "no telecine")
    ignore(f"{V}.SlowPal", ("DISABLED",), "no PAL speed-up")
    ignore(f"{V}.UnregisteredSeiTimecode", ("DISABLED",), "writes no timecode SEI")
    honour(
        f"{V}.AdaptiveQuantization",
        ("OFF", "AUTO", "LOW", "MEDIUM", "HIGH", "HIGHER", "MAX"),
        "encoder AQ off, or on with increasing strength",
    )
    for aq in ("SpatialAdaptiveQuantization", "TemporalAdaptiveQuantization", "FlickerAdaptiveQuantization"):
        ignore(
            f"{V}.{aq}",
            ("ENABLED", "DISABLED"),
            "perceptual bit allocation inside the encoder; format, size, timing and rate control are unchanged",
        )
    honour(
        f"{V}.QualityTuningLevel",
        ("SINGLE_PASS", "SINGLE_PASS_HQ", "MULTI_PASS_HQ"),
        "encoder speed preset (superfast, veryfast, faster); one pass",
    )
    honour(f"{V}.CodecLevel", how="AUTO: chosen by the encoder; LEVEL_x: signalled level")
    ignore(f"{V}.ScanTypeConversionMode", ("INTERLACED",), "applies to interlaced outputs only")
    ignore(f"{V}.HrdBufferFinalFillPercentage", (ANY,), "no end-of-stream buffer target beyond the VBV model")
    ignore(f"{V}.EndOfStreamMarkers", ("SUPPRESS",), "writes no end-of-stream NAL")

V264 = f"{VD}.CodecSettings.H264Settings"
section("H.264")
honour(f"{V264}.CodecProfile", ("BASELINE", "MAIN", "HIGH"), "H.264 profile")
refuse(
    f"{V264}.CodecProfile",
    {
        k: "10-bit and 4:2:2 H.264 are not written locally"
        for k in ("HIGH_10BIT", "HIGH_422", "HIGH_422_10BIT", "MAIN_10BIT")
    },
)
honour(f"{V264}.EntropyEncoding", ("CABAC", "CAVLC"), "entropy coder")
ignore(f"{V264}.Syntax", ("DEFAULT",), "standard H.264 syntax")
ignore(f"{V264}.Softness", (0,), "0 applies the default quantisation matrix")
ignore(f"{V264}.RepeatPps", ("DISABLED",), "PPS only where the encoder writes it")
ignore(f"{V264}.FieldEncoding", ("PAFF", "FORCE_FIELD", "MBAFF"), "applies to interlaced encoding only")
V265 = f"{VD}.CodecSettings.H265Settings"
section("H.265")
honour(f"{V265}.CodecProfile", ("MAIN_MAIN", "MAIN10_MAIN"), "Main or Main 10, Main tier")
honour(f"{V265}.WriteMp4PackagingType", ("HVC1", "HEV1"), "sample entry in MP4")
ignore(f"{V265}.Tiles", ("ENABLED", "DISABLED"), "picture partitioning for parallel decoding; the picture is the same")
ignore(f"{V265}.TemporalIds", ("DISABLED",), "no temporal layer ids")
ignore(f"{V265}.SampleAdaptiveOffsetFilterMode", ("DEFAULT", "ADAPTIVE"), "SAO in-loop filter on, as x265 runs it")
ignore(f"{V265}.AlternateTransferFunctionSei", ("DISABLED",), "writes no alternative transfer SEI")

section("Audio")
AD = f"{OUT}.AudioDescriptions[]"
honour(f"{AD}.AudioSourceName", how="the audio selector (default: Audio Selector 1)")
ignore(f"{AD}.AudioTypeControl", ("FOLLOW_INPUT",), "the inputs carry no audio type to follow")
ignore(f"{AD}.AudioType", (ANY,), "written only with AudioTypeControl USE_CONFIGURED")
honour(f"{AD}.LanguageCodeControl", ("FOLLOW_INPUT", "USE_CONFIGURED"), "language from the selector or LanguageCode")
honour(f"{AD}.LanguageCode", how="stream language")
honour(f"{AD}.CustomLanguageCode", how="stream language")
honour(f"{AD}.StreamName", how="stream title; NAME in the HLS master playlist")
honour(f"{AD}.CodecSettings.Codec", ("AAC", "MP3"), "ffmpeg's AAC encoder, libmp3lame")
AAC = f"{AD}.CodecSettings.AacSettings"
honour(f"{AAC}.Bitrate", how="bitrate")
honour(f"{AAC}.SampleRate", how="sample rate")
honour(f"{AAC}.CodingMode", ("CODING_MODE_1_0", "CODING_MODE_2_0"), "mono or stereo")
honour(f"{AAC}.CodecProfile", ("LC",), "AAC-LC")
refuse(
    f"{AAC}.CodecProfile",
    {k: "HE-AAC needs an encoder (libfdk_aac) that this ffmpeg does not have; use LC" for k in ("HEV1", "HEV2")},
)
honour(f"{AAC}.RateControlMode", ("CBR",), "constant bitrate")
refuse(f"{AAC}.RateControlMode", {"VBR": "ffmpeg's AAC encoder has no equivalent of MediaConvert's VBR quality levels"})
ignore(f"{AAC}.VbrQuality", (ANY,), "used only with RateControlMode VBR, which is refused")
ignore(f"{AAC}.RawFormat", ("NONE",), "no LATM/LOAS wrapping")
honour(f"{AAC}.Specification", ("MPEG4",), "MPEG-4 AAC, as ffmpeg writes it")
ignore(f"{AAC}.AudioDescriptionBroadcasterMix", ("NORMAL",), "a normal (not audio description) mix")
MP3 = f"{AD}.CodecSettings.Mp3Settings"
honour(f"{MP3}.Bitrate", how="CBR bitrate (an MPEG-1 Layer III rate) or ABR target")
honour(f"{MP3}.Channels", (1, 2), "mono or stereo")
honour(f"{MP3}.RateControlMode", ("CBR", "VBR"), "CBR, or VBR at VbrQuality")
honour(f"{MP3}.SampleRate", how="sample rate")
honour(f"{MP3}.VbrQuality", how="LAME VBR quality 0 (best) to 9")

section("Captions")
CD = f"{OUT}.CaptionDescriptions[]"
honour(f"{CD}.CaptionSelectorName", how="the captions selector")
honour(f"{CD}.LanguageCode", how="language of the captions output")
honour(f"{CD}.CustomLanguageCode", how="language of the captions output")
honour(f"{CD}.LanguageDescription", how="NAME in the HLS master playlist")
CDS = f"{CD}.DestinationSettings"
honour(
    f"{CDS}.DestinationType",
    ("BURN_IN", "SRT", "WEBVTT"),
    "burned into the video (libass), or SRT / WebVTT sidecar files (HLS: segmented WebVTT)",
)
BI = f"{CDS}.BurninDestinationSettings"
honour(f"{BI}.FontSize", how="pixels; 0 chooses a size for the frame height")
honour(f"{BI}.FontColor", ("WHITE", "BLACK", "YELLOW", "RED", "GREEN", "BLUE", "AUTO"), "text colour (AUTO: white)")
honour(f"{BI}.FontOpacity", how="0-255")
honour(f"{BI}.OutlineColor", ("BLACK", "WHITE", "YELLOW", "RED", "GREEN", "BLUE", "AUTO"), "outline colour")
honour(f"{BI}.OutlineSize", how="outline width")
honour(f"{BI}.BackgroundColor", ("NONE", "AUTO"), "no box behind the text")
refuse(f"{BI}.BackgroundColor", {k: "a box behind burned-in text is not drawn locally" for k in ("BLACK", "WHITE")})
ignore(f"{BI}.BackgroundOpacity", (ANY,), "used only with a BackgroundColor, which is refused")
honour(f"{BI}.ShadowColor", ("NONE", "BLACK", "WHITE", "AUTO"), "drop shadow")
honour(f"{BI}.ShadowOpacity", how="0-255")
honour(f"{BI}.ShadowXOffset", how="shadow offset")
honour(f"{BI}.ShadowYOffset", how="shadow offset")
honour(f"{BI}.Alignment", ("CENTERED", "LEFT", "AUTO"), "bottom-centre (CENTERED, AUTO) or bottom-left")
ignore(f"{BI}.StylePassthrough", ("DISABLED",), "SRT and WebVTT styling is not applied, as DISABLED asks")
ignore(f"{BI}.TeletextSpacing", (ANY,), "applies to teletext sources only")
ignore(f"{BI}.FontScript", ("AUTOMATIC",), "the script follows the text")
ignore(f"{BI}.FontResolution", (ANY,), "resolution of the font rasteriser; the size is FontSize")
ignore(f"{BI}.ApplyFontColor", ("WHITE_TEXT_ONLY",), "plain SRT/WebVTT text is white text")
ignore(f"{BI}.FallbackFont", ("BEST_MATCH",), "the font matching the text is used")
for member in ("WebvttDestinationSettings", "SrtDestinationSettings"):
    ignore(f"{CDS}.{member}.StylePassthrough", ("DISABLED",), "cues are written without source styling")
ignore(f"{CDS}.WebvttDestinationSettings.Accessibility", ("DISABLED",), "no accessibility attributes")


# ================================================================================================
# Checking a job
@dataclass
class Problem:
    path: str  # wire path, /outputGroups/0/outputs/1/...
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def check_settings(settings: dict[str, Any], *, template: bool = False) -> list[Problem]:
    """Every setting of `settings` (botocore names) the local service cannot honour."""
    shape = model().shape_for("JobTemplateSettings" if template else "JobSettings")
    problems: list[Problem] = []
    _walk(settings, shape, "", "", problems)
    from include.local_stack.mediaconvert_rules import cross_field_problems

    problems += cross_field_problems(settings, template=template)
    return problems


def _walk(value: Any, shape, pattern: str, wire: str, problems: list[Problem]) -> None:
    if value is None or value == {} or value == []:
        return  # an empty structure or list sets nothing
    kind = shape.type_name
    if kind == "structure":
        if not _has_rules_below(pattern):
            problems.append(Problem(wire, "not supported by the local service (remove it)"))
            return
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                continue  # botocore validation reports unknown members
            child = f"{pattern}.{name}" if pattern else name
            _walk(item, member, child, f"{wire}/{member.serialization.get('name', name)}", problems)
        return
    if kind == "list" and shape.member.type_name == "structure":
        for i, item in enumerate(value):
            _walk(item, shape.member, f"{pattern}[]", f"{wire}/{i}", problems)
        return
    if kind == "map":
        for key, item in value.items():
            _walk(item, shape.value, f"{pattern}.*", f"{wire}/{key}", problems)
        return
    rule = SETTINGS.get(pattern)
    if rule is None:
        problems.append(Problem(wire, f"{_show(value)} is not supported by the local service (remove it)"))
        return
    verdict, reason = rule.verdict(value)
    if verdict == "refused":
        problems.append(Problem(wire, f"{_show(value)} is not supported by the local service: {reason}"))


def _show(value: Any) -> str:
    return str(value) if not isinstance(value, str) else value


@cache
def _prefixes() -> frozenset[str]:
    out = set()
    for path in SETTINGS:
        for i, ch in enumerate(path):
            if ch in ".[":
                out.add(path[:i])
        out.add(path)
    return frozenset(out)


def _has_rules_below(pattern: str) -> bool:
    return not pattern or pattern in _prefixes()


# ================================================================================================
# The table as documentation
def wire_path(pattern: str) -> str:
    """`OutputGroups[].Outputs[].NameModifier` -> `outputGroups[].outputs[].nameModifier` (the JSON names)."""
    shape = model().shape_for("JobSettings")
    out = []
    for part in re.findall(r"[A-Za-z0-9]+|\[\]|\.\*", pattern):
        if part == "[]":
            out.append("[]")
            shape = shape.member
        elif part == ".*":
            out.append(".*")
            shape = shape.value
        else:
            member = shape.members[part]
            out.append(("." if out else "") + member.serialization.get("name", part))
            shape = member
    return "".join(out)


def support_markdown() -> str:
    """The tables for the docs page, grouped by section."""
    lines = []
    current = None
    for entry in SETTINGS.values():
        if entry.section != current:
            current = entry.section
            lines += [
                "",
                f"#### {current}",
                "",
                "| setting | honoured | ignored (why) | refused (why) |",
                "|---|---|---|---|",
            ]
        honoured = _values(entry.honoured) + (f": {entry.how}" if entry.how else "") if entry.honoured else ""
        ignored = _values(entry.ignored) + f": {entry.why}" if entry.ignored else ""
        refused = "; ".join(f"{v}: {r}" for v, r in entry.refused.items())
        lines.append(f"| `{wire_path(entry.path)}` | {honoured} | {ignored} | {refused} |")
    return "\n".join(lines).strip() + "\n"


def _values(values: tuple[Any, ...]) -> str:
    return ", ".join("any value" if v == ANY else f"`{v}`" for v in values)


BEGIN = (
    "<!-- BEGIN generated by `python -m include.local_stack.mediaconvert_support`: edit the tables in "
    "include/local_stack/mediaconvert_support.py, not here -->"
)
END = "<!-- END generated -->"


def doc_section() -> str:
    from include.local_stack.mediaconvert_rules import RULES

    honoured = sum(1 for s in SETTINGS.values() if s.honoured)
    ignored = sum(1 for s in SETTINGS.values() if s.ignored)
    lines = [
        BEGIN,
        f"The table lists {len(SETTINGS)} settings: {honoured} honoured (at least at some values) and {ignored} "
        "ignored at values where they change nothing in the outputs. A setting it does not list, or a value "
        "it lists for neither, is refused. Besides the table, a job must meet these rules:",
        "",
        *(f"- {rule}" for rule in RULES),
        "",
        support_markdown().rstrip(),
        END,
    ]
    return "\n".join(lines) + "\n"


def write_doc(path: Path) -> bool:
    """Replace the generated section of `path`; True when it changed."""
    text = path.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    new = text[:start] + doc_section() + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    DOC = Path(__file__).resolve().parents[2] / "docs" / "dags" / "mediaconvert_transcode.md"
    print(f"{DOC.name}: {'updated' if write_doc(DOC) else 'already up to date'}")
