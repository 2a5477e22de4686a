"""Real-world job settings (tests/mediaconvert/corpus) through an unmodified boto3 client against the
local MediaConvert service over HTTP, every output checked with ffprobe.

Each document either runs and every output MediaConvert would write is there, under MediaConvert's
name, with the container, codecs, size, frame rate, duration, audio and segments its settings ask
for; or it is refused with one BadRequestException naming every field the local service cannot
honour. The expectations come from the settings and from the hand-written index, not from the
engine.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mediaflow.mediaconvert.jobs import NamingContext, expected_outputs
from tests.helpers import ffprobe

CORPUS = Path(__file__).parent / "corpus"
INDEX = json.loads((CORPUS / "index.json").read_text())["documents"]
ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"
SOURCE_SIZE, SOURCE_FPS = (384, 216), Fraction(25)
PROFILES = {"BASELINE": {"Baseline", "Constrained Baseline"}, "MAIN": {"Main"}, "HIGH": {"High"}}
PROFILES |= {"MAIN_MAIN": {"Main"}, "MAIN10_MAIN": {"Main 10"}}
MPD = "{urn:mpeg:dash:schema:mpd:2011}"


# -- test media ----------------------------------------------------------------------------------
SRT = "1\n00:00:00,500 --> 00:00:01,200\nHello from the corpus\n\n2\n00:00:01,300 --> 00:00:01,900\nSecond cue\n\n"
VTT = "WEBVTT\n\n00:00:00.500 --> 00:00:01.200\nHello from the corpus\n\n00:00:01.300 --> 00:00:01.900\nSecond cue\n\n"


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _make(kind: str, directory: Path) -> Path:
    video = ["-f", "lavfi", "-i", f"testsrc2=size={SOURCE_SIZE[0]}x{SOURCE_SIZE[1]}:rate={SOURCE_FPS}"]
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25"]
    aac = ["-c:a", "aac", "-ac", "2", "-b:a", "96k"]
    suffix = {"av_ts": ".m2ts", "av_mov": ".mov", "audio_wav": ".wav", "audio_m4a": ".m4a", "logo_png": ".png",
              "captions_srt": ".srt", "captions_vtt": ".vtt"}.get(kind, ".mp4")  # fmt: skip
    path = directory / f"{kind}{suffix}"
    if kind in ("av", "av_ts", "av_mov"):
        _ffmpeg(*video, *tone, "-t", "2", *h264, *aac, str(path))
    elif kind == "video_only":
        _ffmpeg(*video, "-t", "2", *h264, str(path))
    elif kind == "interlaced":
        _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={SOURCE_SIZE[0]}x{SOURCE_SIZE[1]}:rate=50", *tone, "-t", "2",
                "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "libx264", "-preset", "ultrafast",
                "-flags", "+ildct+ilme", "-x264-params", "tff=1", "-pix_fmt", "yuv420p", *aac, str(path))  # fmt: skip
    elif kind == "audio_wav":
        _ffmpeg("-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000", "-t", "2", "-ac", "2", str(path))
    elif kind == "audio_m4a":
        _ffmpeg(*tone, "-t", "2", *aac, str(path))
    elif kind == "logo_png":
        _ffmpeg("-f", "lavfi", "-i", "color=c=white@1.0:s=96x48,format=rgba", "-frames:v", "1", str(path))
    elif kind in ("captions_srt", "captions_vtt"):
        path.write_text(SRT if kind == "captions_srt" else VTT)
    else:
        raise AssertionError(f"unknown media kind {kind}")
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg_bin):
    directory = tmp_path_factory.mktemp("corpus-media")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            made[kind] = _make(kind, directory)
        return made[kind]

    return get


@pytest.fixture
def mc(local_stack):
    return local_stack.boto3_client("mediaconvert")


def test_index_lists_every_document_with_its_source():
    assert sorted(e["file"] for e in INDEX) == sorted(p.name for p in CORPUS.glob("*.json") if p.name != "index.json")
    assert len(INDEX) >= 20
    for entry in INDEX:
        assert entry["source"].get("repository") and entry["source"].get("path"), entry["file"]
        assert entry["covers"], entry["file"]
    runs = [e for e in INDEX if not e.get("refused")]
    assert len(runs) / len(INDEX) >= 0.9


# -- running a document --------------------------------------------------------------------------
@pytest.mark.parametrize("entry", INDEX, ids=[e["file"].removesuffix(".json") for e in INDEX])
def test_corpus_document(entry, mc, s3, make_bucket, media, tmp_path):
    src, out = make_bucket("in"), make_bucket("out")
    text = (CORPUS / entry["file"]).read_text()
    text = text.replace("s3://corpus-input/", f"s3://{src}/").replace("s3://corpus-output/", f"s3://{out}/")
    doc = json.loads(text)
    for key, kind in entry["media"].items():
        s3.upload_file(str(media(kind)), src, key)
    request = _from_template(entry, doc, mc, src) if entry.get("template") else {**doc, "Role": ROLE}
    if request is None:
        return  # the template itself was refused, and checked
    if entry.get("refused"):
        with pytest.raises(mc.exceptions.BadRequestException) as err:
            mc.create_job(**request)
        _check_refusal(str(err.value), entry["refused"])
        return
    job = _wait(mc, mc.create_job(**request)["Job"]["Id"])
    assert job["Status"] == "COMPLETE", f"{job.get('ErrorCode')}: {job.get('ErrorMessage')}"
    Checker(entry, job, s3, src, out, tmp_path).run()


def _from_template(entry: dict, doc: dict, mc, src: str) -> dict | None:
    name = f"{doc['Name']}-{time.time_ns()}"
    template = {k: v for k, v in doc.items() if k not in ("HopDestinations",)} | {"Name": name}
    if entry.get("refused"):
        with pytest.raises(mc.exceptions.BadRequestException) as err:
            mc.create_job_template(**template)
        _check_refusal(str(err.value), entry["refused"])
        return None
    mc.create_job_template(**template)
    job = json.loads(json.dumps(entry["job"]).replace("s3://corpus-input/", f"s3://{src}/"))
    return {"JobTemplate": name, "Role": ROLE, "Settings": job}


def _check_refusal(message: str, paths: list[str]) -> None:
    for path in paths:
        assert f"{path}:" in message, f"{path} not named in: {message}"
    listed = re.findall(r"(/[A-Za-z0-9/]+): ", message)
    assert sorted(listed) == sorted(paths), message


def _wait(mc, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    seen_progress = False
    while time.monotonic() < deadline:
        job = mc.get_job(Id=job_id)["Job"]
        if job["Status"] == "PROGRESSING":
            assert job["CurrentPhase"] in ("PROBING", "TRANSCODING", "UPLOADING")
            assert 0 <= job["JobPercentComplete"] <= 100
            seen_progress = True
        if job["Status"] in ("COMPLETE", "ERROR", "CANCELED"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish (progress seen: {seen_progress})")


# -- checking the outputs ------------------------------------------------------------------------
class Checker:
    def __init__(self, entry: dict, job: dict, s3, source_bucket: str, bucket: str, tmp: Path) -> None:
        self.entry, self.job, self.s3, self.bucket, self.tmp = entry, job, s3, bucket, tmp
        self.source_bucket = source_bucket
        self.settings = job["Settings"]
        self.duration = entry["duration"]
        self.frame = tuple(entry.get("frame", SOURCE_SIZE))
        self.listing = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        start: datetime = job["Timing"]["StartTime"]
        self.start = start
        self.ctx = NamingContext(start, *self.frame, float(SOURCE_FPS))
        self.downloaded: dict[str, Path] = {}

    def run(self) -> None:
        expected = expected_outputs(self.settings, self.job["OutputGroupDetails"], self.ctx)
        assert len(expected) == len(self.settings["OutputGroups"])
        named = {self._key(u) for g in expected for u in g.uris()}
        assert named <= self.listing, f"missing: {sorted(named - self.listing)}"
        for key in self.entry.get("keys", []):
            assert key in self.listing, f"{key} (MediaConvert's name) not written; got {sorted(self.listing)}"
        for key in self.entry.get("keys_with_date", []):
            key = key.format(d=self.start.strftime("%Y%m%d"))
            assert key in self.listing, f"{key} not written; got {sorted(self.listing)}"
        referenced: set[str] = set()
        for group, settings in zip(expected, self.settings["OutputGroups"], strict=True):
            referenced |= self._check_group(group, settings)
        unexplained = self.listing - named - referenced
        assert not unexplained, f"objects no output accounts for: {sorted(unexplained)}"
        self._special_checks()

    def _key(self, uri: str) -> str:
        assert uri.startswith(f"s3://{self.bucket}/"), uri
        return uri[len(f"s3://{self.bucket}/") :]

    def _get(self, key: str) -> Path:
        if key not in self.downloaded:
            path = self.tmp / f"{len(self.downloaded)}-{Path(key).name}"
            self.s3.download_file(self.bucket, key, str(path))
            self.downloaded[key] = path
        return self.downloaded[key]

    def _concat(self, keys: list[str], name: str) -> Path:
        path = self.tmp / name
        path.write_bytes(b"".join(self._get(k).read_bytes() for k in keys))
        return path

    # -- groups ----------------------------------------------------------------------------------
    def _check_group(self, group, settings: dict) -> set[str]:
        kind = group.type
        automated = bool(settings.get("AutomatedEncodingSettings"))
        outputs = settings["Outputs"]
        if kind == "FILE_GROUP_SETTINGS":
            for files, output in zip(group.outputs, outputs, strict=True):
                self._check_file_output(files, output)
            return set()
        if kind == "HLS_GROUP_SETTINGS":
            return self._check_hls(group, settings, automated)
        return self._check_iso(group, settings, automated)

    def _check_file_output(self, files, output: dict) -> None:
        keys = [self._key(u) for u in files.files]
        vd = output.get("VideoDescription") or {}
        codec = (vd.get("CodecSettings") or {}).get("Codec")
        if codec == "FRAME_CAPTURE":
            fc = vd["CodecSettings"]["FrameCaptureSettings"]
            rate = Fraction(fc["FramerateNumerator"], fc["FramerateDenominator"])
            count = math.ceil(self.duration * rate - 1e-9)
            if fc.get("MaxCaptures"):
                count = min(count, fc["MaxCaptures"])
            assert len(keys) == count, keys
            assert all(re.search(r"\.\d{7}\.jpg$", k) or k.endswith(f".{output.get('Extension', 'jpg')}") for k in keys)
            size = self._video_size(output)
            for key in (keys[0], keys[-1]):
                info = ffprobe(self._get(key))["streams"][0]
                assert info["codec_name"] == "mjpeg" and (info["width"], info["height"]) == size, (key, info)
            return
        [key] = keys
        captions = output.get("CaptionDescriptions") or []
        if captions and not vd:
            self._check_sidecar(key, captions[0]["DestinationSettings"]["DestinationType"])
            return
        container = (output.get("ContainerSettings") or {}).get("Container", "MP4")
        formats = {"MP4": "mp4", "MOV": "mov", "RAW": None}
        self._check_media(self._get(key), output, container_format=formats[container])

    def _check_sidecar(self, key: str, kind: str) -> None:
        text = self._get(key).read_text()
        cues = _cue_times(text)
        assert cues, f"{key} has no cues"
        assert text.startswith("WEBVTT") == (kind == "WEBVTT"), key
        assert all(0 <= a < b <= self.duration + 1e-3 for a, b in cues), cues

    def _check_hls(self, group, settings: dict, automated: bool) -> set[str]:
        hls_group = settings["OutputGroupSettings"]["HlsGroupSettings"]
        referenced: set[str] = set()
        if hls_group.get("OutputSelection") == "SEGMENTS_ONLY":
            return referenced
        [master] = [self._key(u) for u in group.manifests]
        playlists = _playlist_uris(self._get(master).read_text())
        folder = master.rsplit("/", 1)[0] + "/" if "/" in master else ""
        assert playlists, f"{master} lists no playlist"
        for uri in playlists:
            assert folder + uri in self.listing, f"{master} refers to {uri}, which is missing"
        explicit = {self._key(o.playlist) for o in group.outputs if o.playlist}
        assert explicit <= {folder + u for u in playlists}, f"{master} misses {explicit}"
        renditions = [folder + u for u in playlists if folder + u not in explicit]
        if automated:
            assert 1 <= len(renditions) <= settings["AutomatedEncodingSettings"]["AbrSettings"].get("MaxRenditions", 15)
        else:
            assert not renditions, renditions
        by_playlist = {self._key(o.playlist): (o, settings["Outputs"][o.output]) for o in group.outputs}
        base_video = next((o for o in settings["Outputs"] if o.get("VideoDescription")), None)
        for playlist in sorted({folder + u for u in playlists}):
            segments = [folder + s for s in _segment_uris(self._get(playlist).read_text())]
            assert segments and all(s in self.listing for s in segments), (playlist, segments)
            referenced |= {playlist, *segments}
            durations = _extinf(self._get(playlist).read_text())
            slack = 0.5 * len(durations) if hls_group.get("ManifestDurationFormat") == "INTEGER" else 0.01
            output = by_playlist[playlist][1] if playlist in by_playlist else base_video
            if output.get("CaptionDescriptions") and not output.get("VideoDescription"):
                assert abs(sum(durations) - self.duration) <= slack + 1e-3
                for seg in segments:
                    assert self._get(seg).read_text().startswith("WEBVTT"), seg
                continue
            assert abs(sum(durations) - self.duration) <= slack + self._frame_time(output), (playlist, durations)
            unique = list(dict.fromkeys(segments))  # SINGLE_FILE lists one file many times
            joined = self._concat(unique, Path(playlist).name + ".joined")
            self._check_media(joined, output, container_format=None,
                              automated=playlist not in by_playlist)  # fmt: skip
        return referenced

    def _check_iso(self, group, settings: dict, automated: bool) -> set[str]:
        referenced: set[str] = set()
        mpds = [self._key(u) for u in group.manifests if u.endswith(".mpd")]
        for mpd in mpds:
            folder = mpd.rsplit("/", 1)[0] + "/"
            reps = _mpd_representations(self._get(mpd).read_text())
            by_init = {self._key(o.init): settings["Outputs"][o.output] for o in group.outputs if o.init}
            base_video = next(o for o in settings["Outputs"] if o.get("VideoDescription")) if automated else None
            assert len(reps) == len(by_init) or automated, (reps, by_init)
            for init, segments, attrs in reps:
                keys = [folder + init] + [folder + s for s in segments]
                assert all(k in self.listing for k in keys), keys
                referenced |= set(keys)
                output = by_init.get(folder + init, base_video)
                assert output is not None, f"{init} is in {mpd} but not an output"
                joined = self._concat(keys, Path(init).name + ".joined.mp4")
                self._check_media(joined, output, container_format="mp4",
                                  automated=folder + init not in by_init, fragmented=True)  # fmt: skip
                if output.get("VideoDescription"):
                    assert (int(attrs["width"]), int(attrs["height"])) == _dims(joined), attrs
        for m3u8 in (u for u in group.manifests if u.endswith(".m3u8")):
            master = self._key(m3u8)
            folder = master.rsplit("/", 1)[0] + "/"
            for uri in _playlist_uris(self._get(master).read_text()):
                text = self._get(folder + uri).read_text()
                init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)
                assert init and folder + init.group(1) in self.listing, uri
                segments = [folder + s for s in _segment_uris(text)]
                assert segments and all(s in self.listing for s in segments), segments
                referenced |= {folder + uri, folder + init.group(1), *segments}
        return referenced

    # -- one stream ------------------------------------------------------------------------------
    def _video_size(self, output: dict) -> tuple[int, int]:
        vd = output["VideoDescription"]
        crop = vd.get("Crop") or {}
        src = (crop.get("Width", self.frame[0]), crop.get("Height", self.frame[1]))
        width, height = vd.get("Width"), vd.get("Height")
        if width and height:
            return width, height
        if width:
            return width, round(src[1] * width / src[0] / 2) * 2
        if height:
            return round(src[0] * height / src[1] / 2) * 2, height
        return src[0] // 2 * 2, src[1] // 2 * 2

    def _fps(self, output: dict) -> Fraction:
        codec = output["VideoDescription"]["CodecSettings"]
        vs = codec.get("H264Settings") or codec.get("H265Settings") or {}
        if vs.get("FramerateControl") == "SPECIFIED":
            return Fraction(vs["FramerateNumerator"], vs["FramerateDenominator"])
        return SOURCE_FPS

    def _frame_time(self, output: dict) -> float:
        return float(1 / self._fps(output)) if output.get("VideoDescription") else 2 * 1152 / 22050

    def _check_media(
        self, path: Path, output: dict, *, container_format: str | None,         automated: bool = False, fragmented: bool = False,
    ) -> None:  # fmt: skip
        info = ffprobe(path)
        if container_format:
            assert container_format in info["format"]["format_name"], info["format"]
        streams = info["streams"]
        video = [s for s in streams if s["codec_type"] == "video"]
        audio = [s for s in streams if s["codec_type"] == "audio"]
        vd = output.get("VideoDescription")
        assert len(video) == (1 if vd else 0), (path.name, streams)
        assert len(audio) == len(output.get("AudioDescriptions") or []), (path.name, streams)
        if vd:
            codec = vd["CodecSettings"]["Codec"]
            vs = vd["CodecSettings"].get("H264Settings") or vd["CodecSettings"].get("H265Settings") or {}
            v = video[0]
            assert v["codec_name"] == {"H_264": "h264", "H_265": "hevc"}[codec], v
            if vs.get("CodecProfile"):
                assert v["profile"] in PROFILES[vs["CodecProfile"]], (v["profile"], vs["CodecProfile"])
            size = (v["width"], v["height"])
            if automated:
                assert size[0] <= self.frame[0] and size[1] <= self.frame[1], f"rendition {size} upscales {self.frame}"
            else:
                assert size == self._video_size(output), (path.name, size)
            assert Fraction(v["avg_frame_rate"]) == self._fps(output) or Fraction(v["r_frame_rate"]) == self._fps(
                output
            )
            got = _stream_duration(path, "v:0")
            assert abs(got - self.duration) <= self._frame_time(output) + 1e-3, (path.name, got, self.duration)
        for desc, a in zip(output.get("AudioDescriptions") or [], audio, strict=True):
            cs = desc["CodecSettings"]
            if cs["Codec"] == "MP3":
                mp3 = cs["Mp3Settings"]
                assert a["codec_name"] == "mp3", a
                assert int(a["channels"]) == mp3.get("Channels", 2) and int(a["sample_rate"]) == mp3["SampleRate"], a
                frame = 1152 / mp3["SampleRate"]
            else:
                aac = cs["AacSettings"]
                assert a["codec_name"] == "aac" and a["profile"] == "LC", a
                channels = 1 if aac.get("CodingMode") == "CODING_MODE_1_0" else 2
                assert int(a["channels"]) == channels and int(a["sample_rate"]) == aac.get("SampleRate", 48000), a
                frame = 1024 / aac.get("SampleRate", 48000)
            got = _stream_duration(path, "a:0")
            # only MP4/MOV files trim the encoder's priming and padding (an edit list); raw audio, TS and
            # fragments carry them: at most two codec frames
            trimmed = container_format in ("mp4", "mov") and not fragmented
            slack = float(1 / SOURCE_FPS) if trimmed else 2 * frame
            assert -float(1 / SOURCE_FPS) <= got - self.duration <= slack + 1e-3, (path.name, got)

    # -- document-specific checks ----------------------------------------------------------------
    def _special_checks(self) -> None:
        entry = self.entry
        for key, cues in (entry.get("cues") or {}).items():
            got = _cue_times(self._get(key).read_text())
            assert len(got) == len(cues), (key, got)
            for (a, b), (x, y) in zip(got, cues, strict=True):
                assert abs(a - x) <= 0.05 and abs(b - y) <= 0.05, (key, got, cues)
        for check in entry.get("differs", []):
            assert self._region_difference(check) > 20, f"{check} shows no overlay or captions"
        for check in entry.get("same", []):
            assert self._region_difference(check) < 8, f"{check} differs from the source where nothing is drawn"
        if entry.get("acl"):
            for key in sorted(self.listing)[:3]:
                grants = self.s3.get_object_acl(Bucket=self.bucket, Key=key)["Grants"]
                assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants), (key, grants)
        if entry.get("tone"):
            assert abs(_dominant_frequency(self._get(entry["tone"]["key"])) - entry["tone"]["hz"]) < 20

    def _region_difference(self, check: dict) -> float:
        """Mean difference, in a region, between an output frame and the source frame at that time."""
        out = self._get(check["key"])
        x, y, w, h = check["region"]
        size = _dims(out)
        source = self.tmp / "source-for-diff"
        self.s3.download_file(self.source_bucket, check["source"], str(source))
        a, b = _gray(out, check["at"], size), _gray(source, check["at"], size)
        return float(np.abs(a[y : y + h, x : x + w].astype(int) - b[y : y + h, x : x + w].astype(int)).mean())


def _gray(path: Path, at: float, size: tuple[int, int]) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1", "-vf",
         f"scale={size[0]}:{size[1]},format=gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(size[1], size[0])


def _dominant_frequency(path: Path) -> float:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(raw, dtype=np.int16).astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / 8000)[int(np.argmax(spectrum[1:])) + 1])


def _stream_duration(path: Path, stream: str) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time,duration_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = [line.split(",") for line in out.split() if line and "N/A" not in line]
    starts = [float(r[0]) for r in rows]
    end = max(float(r[0]) + float(r[1]) for r in rows)
    return end - min(starts)


def _dims(path: Path) -> tuple[int, int]:
    v = next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")
    return v["width"], v["height"]


def _playlist_uris(master: str) -> list[str]:
    uris = re.findall(r'URI="([^"]+\.m3u8)"', master)
    lines = master.splitlines()
    uris += [lines[i + 1] for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF")]
    return uris


def _segment_uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def _extinf(playlist: str) -> list[float]:
    return [float(v) for v in re.findall(r"#EXTINF:([0-9.]+),", playlist)]


def _cue_times(text: str) -> list[tuple[float, float]]:
    def seconds(stamp: str) -> float:
        hh, mm, rest = stamp.replace(",", ".").split(":")
        return int(hh) * 3600 + int(mm) * 60 + float(rest)

    return [
        (seconds(a), seconds(b))
        for a, b in re.findall(r"(\d{2}:\d{2}:\d{2}[.,]\d{3}) --> (\d{2}:\d{2}:\d{2}[.,]\d{3})", text)
    ]


def _mpd_representations(text: str) -> list[tuple[str, list[str], dict[str, str]]]:
    root = ET.fromstring(text)  # noqa: S314 - written by the service under test
    reps = []
    for rep in root.iter(f"{MPD}Representation"):
        template = rep.find(f"{MPD}SegmentTemplate")
        assert template is not None
        media, start = template.get("media", ""), int(template.get("startNumber", "1"))
        count = sum(int(s.get("r", "0")) + 1 for s in template.iter(f"{MPD}S"))
        names = [re.sub(r"\$Number%09d\$", f"{n:09d}", media) for n in range(start, start + count)]
        reps.append((template.get("initialization", ""), names, dict(rep.attrib)))
    return reps
