"""Names, keys and containers of video segments: pure, so the S3 layout is tested without ffmpeg."""

from __future__ import annotations

import posixpath
import string
from dataclasses import dataclass

from mediaflow.common.errors import InputError

#: extension (lower case) -> ffmpeg muxer for the segment muxer's `-segment_format`
SEGMENT_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".ts": "mpegts",
    ".m2ts": "mpegts",
    ".mts": "mpegts",
    ".avi": "avi",
    ".flv": "flv",
}
VIDEO_SUFFIXES = tuple(SEGMENT_FORMATS)
#: when the key has no known extension, the probed container decides (first match wins)
_CONTAINER_FALLBACK = (("matroska", ".mkv"), ("webm", ".webm"), ("mov", ".mp4"), ("mpegts", ".ts"), ("avi", ".avi"))
CONTENT_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "matroska": "video/x-matroska",
    "webm": "video/webm",
    "mpegts": "video/mp2t",
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
}
TEMPLATE_FIELDS = ("video_name", "extension", "source_bucket", "source_dir")
DEFAULT_PREFIX_TEMPLATE = "project/{video_name}/split"
#: S3's limit on a key, in bytes of UTF-8
MAX_KEY_BYTES = 1024
LONGEST_FALLBACK_EXTENSION = max((ext for _c, ext in _CONTAINER_FALLBACK), key=len)


class KeyTemplateError(InputError):
    pass


@dataclass(frozen=True)
class SourceName:
    """`uploads/My Clip.MOV` -> name `My Clip`, extension `.MOV`, directory `uploads`."""

    name: str
    extension: str
    directory: str

    @classmethod
    def from_key(cls, key: str) -> SourceName:
        directory, base = posixpath.split(key)
        stem, ext = posixpath.splitext(base)
        if not stem:  # ".mp4" alone: treat the whole thing as the name
            stem, ext = base, ""
        return cls(name=stem, extension=ext, directory=directory)

    def joined(self) -> str:
        """The key this name came from."""
        base = self.name + self.extension
        return f"{self.directory}/{base}" if self.directory else base


def is_video_key(key: str) -> bool:
    return not key.endswith("/") and posixpath.splitext(key)[1].lower() in SEGMENT_FORMATS


def output_container(extension: str, probed_format: str) -> tuple[str, str]:
    """(segment extension, ffmpeg muxer): the input's own container, so mkv stays mkv."""
    muxer = SEGMENT_FORMATS.get(extension.lower())
    if muxer:
        return extension, muxer
    names = probed_format.split(",")
    for probed, ext in _CONTAINER_FALLBACK:
        if probed in names:
            return ext, SEGMENT_FORMATS[ext]
    raise InputError(
        f"cannot tell which container to write for extension {extension!r} (ffprobe says {probed_format!r}); "
        f"rename the object with one of {', '.join(VIDEO_SUFFIXES)}"
    )


def validate_template(template: str) -> None:
    """Refuse unknown `{fields}`, format specs and conversions before any work starts.

    Specs are refused because a width such as `{video_name:>2000}` makes keys as long as it
    likes (S3 allows 1,024 bytes), and the names are meant to go into keys as they are."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise KeyTemplateError(f"output_key_prefix {template!r} is not a valid template: {exc}") from exc
    for _literal, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in TEMPLATE_FIELDS:
            raise KeyTemplateError(
                f"output_key_prefix {template!r} uses unknown field {{{field_name}}}; "
                f"available fields: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
            )
        if spec or conversion:
            written = "{" + field_name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise KeyTemplateError(
                f"output_key_prefix {template!r} formats a field ({written}); write the plain field "
                f"{{{field_name}}}: names go into keys as they are"
            )


def render_prefix(template: str, source: SourceName, source_bucket: str) -> str:
    """The key prefix the segments of one video go under, without leading or trailing slash.

    Refuses a prefix whose segment keys would not fit in S3's 1,024 bytes (checked with the
    widest index the names get, `_9999`)."""
    validate_template(template)
    rendered = template.format(
        video_name=source.name,
        extension=source.extension.lstrip("."),
        source_bucket=source_bucket,
        source_dir=source.directory,
    )
    prefix = "/".join(part for part in rendered.split("/") if part)
    longest = segment_key(prefix, source.name, 9999, source.extension or LONGEST_FALLBACK_EXTENSION)
    size = len(longest.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise KeyTemplateError(
            f"output_key_prefix {template!r} makes segment keys of {size} bytes for "
            f"s3://{source_bucket}/{source.joined()} (e.g. {longest[:80]!r}...); S3 allows {MAX_KEY_BYTES}. "
            "Use a shorter output_key_prefix."
        )
    return prefix


def segment_name(video_name: str, index: int) -> str:
    return f"{video_name}_{index:04d}"


def segment_key(prefix: str, video_name: str, index: int, extension: str) -> str:
    name = f"{segment_name(video_name, index)}{extension}"
    return f"{prefix}/{name}" if prefix else name


def local_pattern(extension: str) -> str:
    """The segment muxer's output pattern inside the work directory (never the user's name)."""
    return f"segment_%04d{extension.lower()}"
