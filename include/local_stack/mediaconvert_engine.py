"""The transcoding engine behind the local MediaConvert service: from a job's settings to objects
in S3 and OutputGroupDetails.

A job runs in three phases, reported as MediaConvert reports them: PROBING (inputs, external
audio, overlays and captions are read from S3 and probed), TRANSCODING (the inputs are assembled
into one timeline, then every output is encoded and packaged from it) and UPLOADING. Settings
the engine cannot honour never get here: `check_supported` refuses them when the job is created
(see mediaconvert_support for the table).
"""

from __future__ import annotations

import copy
import posixpath
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from include.local_stack.mediaconvert_encode import audio_args, picture, video_codec_args, video_graph
from include.local_stack.mediaconvert_media import (
    Cue,
    JobCanceled,
    JobError,
    first_video_time,
    read_captions,
    run_ffmpeg,
    srt_text,
    webvtt_text,
)
from include.local_stack.mediaconvert_naming import jobs
from include.local_stack.mediaconvert_package import (
    TS_START_PTS,
    Segment,
    Stream,
    add_timestamp_id3,
    boundaries,
    codec_strings,
    collect_segments,
    master_playlist,
    media_playlist,
    merge_tail_segment,
    mpd_document,
    read_dash_timeline,
    segment_times_arg,
    webvtt_segments,
)
from include.local_stack.mediaconvert_rules import GROUP_MEMBERS, container_of, video_settings
from include.local_stack.mediaconvert_support import Problem, check_settings
from include.local_stack.mediaconvert_timeline import Source, Timeline, build_timeline, probe_source

__all__ = ["JobCanceled", "JobError", "UnsupportedSetting", "check_supported", "run_job"]

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/MP2T", ".mp4": "video/mp4", ".mov": "video/quicktime",
    ".mpd": "application/dash+xml", ".cmfv": "video/mp4", ".cmfa": "audio/mp4", ".jpg": "image/jpeg",
    ".aac": "audio/aac", ".mp3": "audio/mpeg", ".vtt": "text/vtt", ".srt": "application/x-subrip",
}  # fmt: skip
CANNED_ACL = {
    "PUBLIC_READ": "public-read", "AUTHENTICATED_READ": "authenticated-read",
    "BUCKET_OWNER_READ": "bucket-owner-read", "BUCKET_OWNER_FULL_CONTROL": "bucket-owner-full-control",
}  # fmt: skip
#: rendition heights of the automated ABR approximation, below the input's own
#: a last DASH/CMAF segment shorter than this holds only the encoder's padding (see merge_tail_segment)
TAIL_SECONDS = 0.1
ABR_LADDER = (2160, 1440, 1080, 720, 540, 480, 432, 360, 288, 270, 234, 180, 144)


class UnsupportedSetting(Exception):
    """Settings the local service cannot honour; the service answers 400 listing every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(refusal_message(problems))


def refusal_message(problems: list[Problem]) -> str:
    return (
        f"The local MediaConvert service cannot run this job as MediaConvert would; change or remove "
        f"{'this setting' if len(problems) == 1 else f'these {len(problems)} settings'}: "
        + "; ".join(str(p) for p in problems)
    )


def check_supported(settings: dict[str, Any], *, template: bool = False) -> None:
    problems = check_settings(settings, template=template)
    if problems:
        raise UnsupportedSetting(problems)


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def run_job(
    settings: dict[str, Any],
    s3_endpoint: str,
    progress: Callable[[int, str], None],
    cancel: threading.Event,
    start_time: datetime | None = None,
) -> list[dict[str, Any]]:
    """Transcode every output of `settings`; return OutputGroupDetails. Raises JobError."""
    with tempfile.TemporaryDirectory(prefix="mc-job-") as tmp:
        return _Job(settings, s3_client(s3_endpoint), Path(tmp), progress, cancel, start_time).run()


class _Job:
    def __init__(self, settings, s3, work: Path, progress, cancel: threading.Event, start_time) -> None:
        self.settings, self.s3, self.work, self.progress, self.cancel = settings, s3, work, progress, cancel
        self.start_time = start_time or datetime.now().astimezone()
        self.units, self.done = 1, 0
        self.downloads: dict[str, Path] = {}

    # -- phases ----------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        self.progress(0, "PROBING")
        sources = [self._source(i, inp) for i, inp in enumerate(self.settings["Inputs"])]
        output_images = self._output_images()
        groups = self.settings["OutputGroups"]
        self.units = 1 + sum(len(g.get("Outputs") or []) for g in groups)
        timeline = build_timeline(sources, self.settings, self.work, self.reporter(), self.cancel)
        self.advance()
        groups = [expand_automated(g, timeline) for g in groups]
        self.units = 1 + sum(len(g.get("Outputs") or []) for g in groups)
        ctx = jobs.NamingContext(self.start_time, timeline.width, timeline.height, float(timeline.fps))
        stem = posixpath.splitext(posixpath.basename(self.settings["Inputs"][0]["FileInput"]))[0]
        details, uploads = [], []
        for gi, group in enumerate(groups):
            writer = _GroupWriter(self, gi, group, timeline, ctx, stem, output_images)
            details.append({"OutputDetails": writer.write()})
            uploads.append((group, writer))
        self.progress(99, "UPLOADING")
        for group, writer in uploads:
            self._upload(group, writer)
        return details

    def reporter(self) -> Callable[[float], None]:
        done, units = self.done, self.units

        def report(fraction: float) -> None:
            self.progress(min(99, int(100 * (done + fraction) / units)), "TRANSCODING")

        return report

    def advance(self) -> None:
        self.done += 1
        self.progress(min(99, int(100 * self.done / self.units)), "TRANSCODING")

    # -- reading ---------------------------------------------------------------------------------
    def download(self, uri: str, what: str = "input file") -> Path:
        if uri in self.downloads:
            return self.downloads[uri]
        bucket, key = split_uri(uri)
        path = self.work / "in" / f"{len(self.downloads)}{posixpath.splitext(key)[1] or '.bin'}"
        path.parent.mkdir(exist_ok=True)
        try:
            self.s3.download_file(bucket, key, str(path))
        except Exception as exc:  # noqa: BLE001 - reported as MediaConvert reports it
            raise JobError(
                1010,
                f"Unable to open {what} [{uri}]: [Failed probe/open: [Can't read input stream: "
                f"[Failed to read data: HeadObject failed: {exc}]]]",
            ) from exc
        self.downloads[uri] = path
        return path

    def _source(self, index: int, inp: dict[str, Any]) -> Source:
        uri = inp["FileInput"]
        source = Source(index, uri, inp, probe_source(self.download(uri), uri))
        for name, selector in (inp.get("AudioSelectors") or {}).items():
            external = selector.get("ExternalAudioFileInput")
            if external:
                source.externals[name] = probe_source(self.download(external, "audio file"), external)
        for image in (inp.get("ImageInserter") or {}).get("InsertableImages") or []:
            source.images.append((image, self.download(image["ImageInserterInput"], "image file")))
        for name, selector in (inp.get("CaptionSelectors") or {}).items():
            fs = selector["SourceSettings"]["FileSourceSettings"]
            path = self.download(fs["SourceFile"], "captions file")
            delta = fs.get("TimeDelta", 0) / (1000 if fs.get("TimeDeltaUnits") == "MILLISECONDS" else 1)
            cues = [Cue(c.start + delta, c.end + delta, c.text) for c in read_captions(path) if c.end + delta > 0]
            source.captions[name] = [Cue(max(0.0, c.start), c.end, c.text) for c in cues]
        return source

    def _output_images(self) -> dict[str, Path]:
        images = {}
        for group in self.settings["OutputGroups"]:
            for output in group.get("Outputs") or []:
                pre = (output.get("VideoDescription") or {}).get("VideoPreprocessors") or {}
                for image in (pre.get("ImageInserter") or {}).get("InsertableImages") or []:
                    uri = image["ImageInserterInput"]
                    images[uri] = self.download(uri, "image file")
        return images

    # -- writing ---------------------------------------------------------------------------------
    def _upload(self, group: dict[str, Any], writer: _GroupWriter) -> None:
        gs = group["OutputGroupSettings"]
        s3settings = (gs[GROUP_MEMBERS[gs["Type"]]].get("DestinationSettings") or {}).get("S3Settings") or {}
        extra: dict[str, str] = {}
        acl = (s3settings.get("AccessControl") or {}).get("CannedAcl")
        if acl:
            extra["ACL"] = CANNED_ACL[acl]
        if (s3settings.get("Encryption") or {}).get("EncryptionType") == "SERVER_SIDE_ENCRYPTION_S3":
            extra["ServerSideEncryption"] = "AES256"
        if s3settings.get("StorageClass"):
            extra["StorageClass"] = s3settings["StorageClass"]
        bucket, prefix = split_uri(writer.prefix)
        for path in sorted(writer.directory.iterdir()):
            if self.cancel.is_set():
                raise JobCanceled()
            content = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
            self.s3.upload_file(str(path), bucket, prefix + path.name, ExtraArgs={"ContentType": content, **extra})


def expand_automated(group: dict[str, Any], timeline: Timeline) -> dict[str, Any]:
    """Automated ABR, approximated: the video output becomes a ladder of QVBR renditions from the
    input's own height (or the output's Width/Height, whichever is smaller; never above the input)
    down the usual heights, at most MaxRenditions of them, with peak bitrates spread evenly (on a log
    scale) from MaxAbrBitrate down to MinAbrBitrate. Renditions are named {NameModifier}_1 (the
    largest) to _N. MediaConvert picks its ladder by analysing the content; this one does not."""
    settings = (group.get("AutomatedEncodingSettings") or {}).get("AbrSettings")
    if settings is None:
        return group
    group = copy.deepcopy(group)
    outputs = group["Outputs"]
    at = next(i for i, o in enumerate(outputs) if o.get("VideoDescription"))
    base = outputs[at]
    vd = base["VideoDescription"]
    top = min(timeline.height, vd.get("Height") or timeline.height)
    if vd.get("Width"):
        top = min(top, round(vd["Width"] * timeline.height / timeline.width))
    heights = [top, *(h for h in ABR_LADDER if h < top)][: settings.get("MaxRenditions", 15)]
    high, low = settings.get("MaxAbrBitrate", 8_000_000), settings.get("MinAbrBitrate", 600_000)
    renditions = []
    for i, height in enumerate(heights):
        rate = high if len(heights) == 1 else round(high * (low / high) ** (i / (len(heights) - 1)))
        rendition = copy.deepcopy(base)
        rvd = rendition["VideoDescription"]
        rvd["Height"] = max(2, height // 2 * 2)
        rvd["Width"] = max(2, round(height * timeline.width / timeline.height / 2) * 2)
        _, vs = video_settings(rendition)
        vs.pop("Bitrate", None)
        vs["MaxBitrate"] = rate
        vs.setdefault("QvbrSettings", {}).setdefault("QvbrQualityLevel", 7)
        rendition["NameModifier"] = f"{base.get('NameModifier', '')}_{i + 1}"
        renditions.append(rendition)
    group["Outputs"] = outputs[:at] + renditions + outputs[at + 1 :]
    return group


class _GroupWriter:
    """Encodes and packages one output group into a local folder mirroring its destination."""

    def __init__(self, job: _Job, index: int, group: dict[str, Any], timeline: Timeline, ctx, stem: str, images):
        self.job, self.index, self.group, self.timeline, self.ctx, self.stem = job, index, group, timeline, ctx, stem
        self.images = images
        gs = group["OutputGroupSettings"]
        self.kind = gs["Type"]
        self.sub = gs[GROUP_MEMBERS[self.kind]]
        destination = jobs.resolve_identifiers(self.sub["Destination"], stem, ctx, None, self.kind, "Destination")
        self.prefix, self.base = jobs.split_destination(destination, stem)
        self.directory = job.work / f"group{index}"
        self.directory.mkdir()
        self.duration = timeline.duration
        self.selectors = {
            name: sel for inp in job.settings["Inputs"] for name, sel in (inp.get("AudioSelectors") or {}).items()
        }

    def write(self) -> list[dict[str, Any]]:
        writer = {
            "FILE_GROUP_SETTINGS": self._file_group,
            "HLS_GROUP_SETTINGS": self._hls_group,
        }.get(self.kind, self._iso_group)
        return writer()

    # -- shared ----------------------------------------------------------------------------------
    def _name(self, output: dict[str, Any], member: str = "NameModifier", value: str | None = None) -> str:
        text = output.get(member, "") if value is None else value
        return jobs.resolve_identifiers(text, self.stem, self.ctx, output, self.kind, member)

    def _detail(self, output: dict[str, Any]) -> dict[str, Any]:
        detail: dict[str, Any] = {"DurationInMs": int(round(self.duration * 1000))}
        if output.get("VideoDescription"):
            pic = picture(output, self.timeline)
            detail["VideoDetails"] = {"WidthInPx": pic.width, "HeightInPx": pic.height}
        return detail

    def _encode_args(self, oi: int, output: dict[str, Any], segment_length: float | None) -> list[str]:
        """Input, filter graph, video and audio encoder arguments for one output."""
        args = ["-i", str(self.timeline.path)]
        vd = output.get("VideoDescription")
        tag = f"{self.index}_{oi}"
        if vd:
            images = [
                (img, self.images[img["ImageInserterInput"]])
                for img in ((vd.get("VideoPreprocessors") or {}).get("ImageInserter") or {}).get("InsertableImages")
                or []
            ]
            burn = next(
                (d for d in output.get("CaptionDescriptions") or [] if d["DestinationSettings"]["DestinationType"]
                 == "BURN_IN"),
                None,
            )  # fmt: skip
            burn_in = (burn, self.timeline.captions.get(burn["CaptionSelectorName"], [])) if burn else None
            lines, pic = video_graph(output, self.timeline, self.job.work, tag, images, burn_in)
            graph = self.job.work / f"output{tag}.graph"
            graph.write_text(";\n".join(lines) + "\n")
            args += ["-filter_complex_script", str(graph), "-map", "[vout]"]
            args += video_codec_args(output, pic, segment_length)
        for ai, desc in enumerate(output.get("AudioDescriptions") or []):
            args += audio_args(desc, self.timeline, self.selectors, ai)
        return args

    def _ffmpeg(self, args: list[str], what: str) -> None:
        run_ffmpeg(args, self.duration, self.job.reporter(), self.job.cancel, what, cwd=self.directory)
        self.job.advance()

    def _cues(self, output: dict[str, Any]) -> list[Cue]:
        desc = output["CaptionDescriptions"][0]
        return self.timeline.captions.get(desc["CaptionSelectorName"], [])

    # -- file group ------------------------------------------------------------------------------
    def _file_group(self) -> list[dict[str, Any]]:
        details = []
        for oi, output in enumerate(self.group["Outputs"]):
            name = self.base + self._name(output)
            ext = jobs.file_extension(output)
            codec, vs = video_settings(output)
            container = container_of(self.kind, output)
            what = f"output {name}.{ext}"
            if output.get("CaptionDescriptions") and not output.get("VideoDescription"):
                kind = output["CaptionDescriptions"][0]["DestinationSettings"]["DestinationType"]
                cues = self._cues(output)
                text = srt_text(cues) if kind == "SRT" else webvtt_text(cues)
                (self.directory / f"{name}.{ext}").write_text(text)
                self.job.advance()
            elif codec == "FRAME_CAPTURE":
                count = jobs.capture_count(self.duration, vs)
                args = self._encode_args(oi, output, None) + ["-frames:v", str(count), "-f", "image2"]
                self._ffmpeg([*args, "-start_number", "0", f"{name}.%07d.{ext}"], what)
                made = len(list(self.directory.glob(f"{_glob(name)}.[0-9]*.{ext}")))
                if made != count:
                    raise JobError(1030, f"Frame capture for {what} wrote {made} images, expected {count}")
            else:
                args = self._encode_args(oi, output, None)
                if container == "RAW":
                    fmt = "mp3" if "Mp3Settings" in output["AudioDescriptions"][0]["CodecSettings"] else "adts"
                    args += ["-f", fmt]
                elif container == "MOV":
                    args += ["-f", "mov"]
                else:
                    mp4 = (output.get("ContainerSettings") or {}).get("Mp4Settings") or {}
                    args += ["-f", "mp4"]
                    if mp4.get("MoovPlacement", "PROGRESSIVE_DOWNLOAD") == "PROGRESSIVE_DOWNLOAD":
                        args += ["-movflags", "+faststart"]
                    if mp4.get("Mp4MajorBrand"):
                        args += ["-brand", mp4["Mp4MajorBrand"]]
                self._ffmpeg([*args, f"{name}.{ext}"], what)
            details.append(self._detail(output))
        return details

    # -- HLS -------------------------------------------------------------------------------------
    def _hls_group(self) -> list[dict[str, Any]]:
        length = self.sub.get("SegmentLength", 10)
        count = jobs.segment_count(self.duration, length, self.sub.get("MinFinalSegmentLength", 0))
        streams: list[Stream] = []
        for oi, output in enumerate(self.group["Outputs"]):
            name = self.base + self._name(output)
            hls = (output.get("OutputSettings") or {}).get("HlsSettings") or {}
            stream = Stream(name=name, kind=_kind(output), hls=hls)
            stream.segment_name = name + self._name(output, "SegmentModifier", hls.get("SegmentModifier", ""))
            self._describe(stream, output)
            streams.append(stream)
            if stream.kind == "captions":
                continue  # below, once the video's first timestamp is known
            if self.sub.get("SegmentControl") == "SINGLE_FILE":
                self._hls_single_file(oi, output, stream, length)
            else:
                self._hls_segments(oi, output, stream, stream.segment_name, length, count)
        caption_length = length if self.sub.get("CaptionSegmentLengthControl") == "MATCH_VIDEO" else None
        caption_length = caption_length or jobs.LARGE_CAPTION_SEGMENT
        first_pts = self._first_video_pts(streams)
        for output, stream in zip(self.group["Outputs"], streams, strict=True):
            if stream.kind == "captions":
                stream.segments = webvtt_segments(
                    self.directory, stream.segment_name, self._cues(output), self.duration, caption_length,
                    jobs.segment_count(self.duration, caption_length), first_pts,
                )  # fmt: skip
                self.job.advance()
        if self.sub.get("OutputSelection") != "SEGMENTS_ONLY":
            for stream in streams:
                (self.directory / f"{stream.name}.m3u8").write_text(media_playlist(stream, self.sub))
            (self.directory / f"{self.base}.m3u8").write_text(master_playlist(streams, self.sub))
        return [self._detail(output) for output in self.group["Outputs"]]

    def _first_video_pts(self, streams: list[Stream]) -> int:
        """90 kHz PTS of the first video frame in the group's TS segments, which WebVTT cues map to."""
        video = next((s for s in streams if s.kind == "video" and s.segments), None)
        if video is None:
            return TS_START_PTS
        path = self.directory / (video.single_file or video.segments[0].name)
        start = first_video_time(path)
        return TS_START_PTS if start is None else round(start * 90000)

    def _hls_segments(self, oi, output, stream: Stream, segment_name: str, length: float, count: int) -> None:
        raw = stream.kind == "audio" and stream.hls.get("AudioOnlyContainer", "AUTOMATIC") == "AUTOMATIC"
        ext = "aac" if raw else "ts"
        args = self._encode_args(oi, output, length if output.get("VideoDescription") else None)
        args += ["-f", "segment", *segment_times_arg(self.duration, length, count)]
        args += ["-segment_format", "adts" if raw else "mpegts", "-segment_start_number", "1", "-reset_timestamps", "0"]
        if not raw:
            args += ["-segment_format_options", _ts_options(output)]
        pattern = segment_name.replace("%", "%%") + f"_%05d.{ext}"
        self._ffmpeg([*args, pattern], f"output {stream.name}")
        names = [f"{segment_name}_{n:05d}.{ext}" for n in range(1, count + 1)]
        made = sorted(p.name for p in self.directory.glob(f"{_glob(segment_name)}_[0-9][0-9][0-9][0-9][0-9].{ext}"))
        if made != names:
            raise JobError(1030, f"Segmenting {stream.name} wrote {len(made)} segments, expected {count}")
        starts = boundaries(self.duration, length, count)
        if raw and self.sub.get("AudioOnlyHeader", "INCLUDE") == "INCLUDE":
            for start, seg in zip(starts, names, strict=False):
                add_timestamp_id3(self.directory / seg, start)
        stream.segments = collect_segments(self.directory, names, starts)
        stream.codecs = codec_strings(self.directory / names[0])["codecs"]

    def _hls_single_file(self, oi, output, stream: Stream, length: float) -> None:
        tmp = f"{stream.name}.single.m3u8"
        args = self._encode_args(oi, output, length if output.get("VideoDescription") else None)
        args += ["-f", "hls", "-hls_time", str(length), "-hls_playlist_type", "vod", "-hls_flags", "single_file"]
        args += ["-hls_segment_type", "mpegts", "-hls_segment_filename", f"{stream.name}.ts"]
        self._ffmpeg([*args, tmp], f"output {stream.name}")
        lines = (self.directory / tmp).read_text().splitlines()
        (self.directory / tmp).unlink()
        duration = 0.0
        for line in lines:
            if line.startswith("#EXTINF:"):
                duration = float(line[len("#EXTINF:") :].rstrip(","))
            elif line.startswith("#EXT-X-BYTERANGE:"):
                size, _, offset = line.split(":", 1)[1].partition("@")
                stream.segments.append(Segment(f"{stream.name}.ts", duration, int(size), int(offset or 0)))
        stream.single_file = f"{stream.name}.ts"
        stream.codecs = codec_strings(self.directory / stream.single_file)["codecs"]

    def _describe(self, stream: Stream, output: dict[str, Any]) -> None:
        if output.get("VideoDescription"):
            pic = picture(output, self.timeline)
            stream.width, stream.height, stream.fps, stream.sar = pic.width, pic.height, pic.fps, pic.sar
        audio = output.get("AudioDescriptions") or []
        stream.has_audio = bool(audio)
        if audio:
            desc = audio[0]
            aac = (desc.get("CodecSettings") or {}).get("AacSettings") or {}
            stream.channels = 1 if aac.get("CodingMode") == "CODING_MODE_1_0" else 2
            stream.sample_rate = aac.get("SampleRate", 48000)
            stream.label = desc.get("StreamName")
            code = desc.get("CustomLanguageCode") or desc.get("LanguageCode")
            stream.language = code.lower() if code else None
        captions = output.get("CaptionDescriptions") or []
        if captions and not output.get("VideoDescription"):
            code = captions[0].get("CustomLanguageCode") or captions[0].get("LanguageCode")
            stream.language = code.lower() if code else None
            stream.label = captions[0].get("LanguageDescription")

    # -- DASH ISO and CMAF -----------------------------------------------------------------------
    def _iso_group(self) -> list[dict[str, Any]]:
        cmaf = self.kind == "CMAF_GROUP_SETTINGS"
        length = self.sub.get("SegmentLength", 30)
        fragment = self.sub.get("FragmentLength", 2)
        count = jobs.segment_count(self.duration, length, self.sub.get("MinFinalSegmentLength", 0))
        streams, details = [], []
        for oi, output in enumerate(self.group["Outputs"]):
            name = self.base + self._name(output)
            stream = Stream(name=name, kind=_kind(output), hls=(output.get("ContainerSettings") or {}).get(
                "CmfcSettings") or {})  # fmt: skip
            self._describe(stream, output)
            ext = ("cmfa" if stream.kind == "audio" else "cmfv") if cmaf else "mp4"
            stream.init = f"{name}init.{ext}"
            tmp = f"{name}.single.mpd"
            args = self._encode_args(oi, output, length if output.get("VideoDescription") else None)
            args += ["-f", "dash", "-seg_duration", str(length), "-use_template", "1", "-use_timeline", "1"]
            if fragment < length:
                args += ["-frag_duration", str(fragment), "-frag_type", "duration"]
            args += ["-init_seg_name", stream.init, "-media_seg_name", f"{name}_$Number%09d$.{ext}"]
            args += ["-dash_segment_type", "mp4", "-single_file", "0"]
            self._ffmpeg([*args, tmp], f"output {name}")
            timescale, entries, _ = read_dash_timeline(self.directory / tmp)
            (self.directory / tmp).unlink()
            names = [f"{name}_{n:09d}.{ext}" for n in range(1, len(entries) + 1)]
            if len(entries) == count + 1 and entries[-1][1] < timescale * TAIL_SECONDS:
                merge_tail_segment(self.directory, names[-2], names[-1])
                entries = entries[:-2] + [(entries[-2][0], entries[-2][1] + entries[-1][1])]
                names = names[:-1]
            if len(entries) != count or not all((self.directory / n).exists() for n in names):
                raise JobError(1030, f"Packaging {name} wrote {len(entries)} segments, expected {count}")
            stream.timescale, stream.timeline = timescale, entries
            stream.segments = [
                Segment(n, d / timescale, (self.directory / n).stat().st_size)
                for n, (_, d) in zip(names, entries, strict=True)
            ]
            stream.codecs = codec_strings(self.directory / stream.init, self.directory / names[0])["codecs"]
            streams.append(stream)
            details.append(self._detail(output))
        if not cmaf or self.sub.get("WriteDashManifest", "ENABLED") == "ENABLED":
            (self.directory / f"{self.base}.mpd").write_text(mpd_document(streams, self.sub, self.duration))
        if cmaf and self.sub.get("WriteHlsManifest", "ENABLED") == "ENABLED":
            for stream in streams:
                (self.directory / f"{stream.name}.m3u8").write_text(media_playlist(stream, self.sub, version=6))
            (self.directory / f"{self.base}.m3u8").write_text(master_playlist(streams, self.sub, version=6))
        return details


def _kind(output: dict[str, Any]) -> str:
    if output.get("VideoDescription"):
        return "video"
    return "audio" if output.get("AudioDescriptions") else "captions"


def _ts_options(output: dict[str, Any]) -> str:
    m3u8 = (output.get("ContainerSettings") or {}).get("M3u8Settings") or {}
    first_pid = m3u8.get("VideoPid", 481) if output.get("VideoDescription") else (m3u8.get("AudioPids") or [482])[0]
    options = [
        f"mpegts_pmt_start_pid={m3u8.get('PmtPid', 480)}",
        f"mpegts_start_pid={first_pid}",
        f"mpegts_service_id={m3u8.get('ProgramNumber', 1)}",
    ]
    if "TransportStreamId" in m3u8:
        options.append(f"mpegts_transport_stream_id={m3u8['TransportStreamId']}")
    return ":".join(options)


def _glob(name: str) -> str:
    return "".join(f"[{c}]" if c in "[]*?" else c for c in name)
