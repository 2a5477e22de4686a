"""Frame.io API shapes without Airflow: asset parsing (v2 and v4), pagination, and the S3 key
layout of a backup.

Kept apart from the hook so the same rules serve the operators, the webhook and the unit
tests, and so the two API versions meet in one normalized `FrameioAsset`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

#: v4 file states whose original can be downloaded
V4_READY_STATES = frozenset({"uploaded", "transcoded"})


@dataclass
class FrameioAsset:
    """One Frame.io file, folder or version stack, whichever API version described it."""

    id: str
    type: str
    name: str
    parent_id: str | None = None
    project_id: str | None = None
    size: int | None = None
    original: str | None = None
    xxh64: str | None = None
    uploaded: bool = True
    version: int | None = None
    created_at: str = ""
    head_id: str | None = None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_v2_asset(raw: dict[str, Any]) -> FrameioAsset:
    """`GET /v2/assets/{id}` (or a child) -> FrameioAsset. v2 calls folders `folder` and stacks `version_stack`."""
    checksums = raw.get("checksums") or {}
    version = _int(raw.get("version"))
    if version is None and raw.get("index") is not None:
        version = (_int(raw.get("index")) or 0) + 1
    kind = raw.get("type") or "file"
    return FrameioAsset(
        id=str(raw["id"]),
        type=kind,
        name=str(raw.get("name") or raw["id"]),
        parent_id=raw.get("parent_id"),
        project_id=raw.get("project_id"),
        size=_int(raw.get("filesize")),
        original=raw.get("original") or None,
        xxh64=(checksums.get("xx_hash") or None) if isinstance(checksums, dict) else None,
        uploaded=kind != "file" or bool(raw.get("upload_completed_at")),
        version=version,
        created_at=str(raw.get("inserted_at") or raw.get("created_at") or ""),
        head_id=raw.get("cover_asset_id") if kind == "version_stack" else None,
    )


def parse_v4_item(raw: dict[str, Any], kind: str | None = None) -> FrameioAsset:
    """A V4 `data` object (file, folder or version stack) -> FrameioAsset.

    The shapes are the official SDK's models (`File`/`FileWithIncludes`, `Folder`,
    `VersionStack`, `AssetWithIncludes`): V4 gives no checksum and no version number (a
    stack's children are numbered by age), `media_links` and its `original` may be absent or
    null (no permission, watermarking), and a file is downloadable once its `status` is
    `uploaded` or `transcoded` (`created` while it uploads)."""
    kind = kind or raw.get("type") or _v4_kind(raw)
    links = raw.get("media_links") or {}
    original = (links.get("original") if isinstance(links, dict) else None) or {}
    status = raw.get("status")
    head = raw.get("head_version") or {}
    return FrameioAsset(
        id=str(raw["id"]),
        type=kind,
        name=str(raw.get("name") or raw["id"]),
        parent_id=raw.get("parent_id"),
        project_id=raw.get("project_id"),
        size=_int(raw.get("file_size")),
        original=(original.get("download_url") if isinstance(original, dict) else None) or None,
        xxh64=None,
        uploaded=kind != "file" or status is None or status in V4_READY_STATES,
        created_at=str(raw.get("created_at") or ""),
        head_id=head.get("id") if isinstance(head, dict) else None,
    )


def _v4_kind(raw: dict[str, Any]) -> str:
    """The kind of a listed item that left out its `type` (the SDK's models default it): the
    fields only that kind requires tell it."""
    if "file_size" in raw or "status" in raw:
        return "file"
    if "restricted" in raw:
        return "folder"
    return "version_stack" if "head_version" in raw else "file"


# -- pagination ------------------------------------------------------------------------------
def v2_next_page(headers: dict[str, str] | Any, page: int) -> int | None:
    """v2 pages by number: the next page, or None after `total-pages` (headers are case-insensitive)."""
    total_pages = _int(headers.get("total-pages"))
    current = _int(headers.get("page-number")) or page
    if total_pages is None or current >= total_pages:
        return None
    return current + 1


def v4_next_cursor(body: dict[str, Any]) -> str | None:
    """v4 pages by cursor: `links.next` is a URL (or path) whose `after` query is the cursor.

    Only the cursor is taken from it; callers repeat `include` and `page_size` themselves,
    because the next link does not carry them."""
    link = (body.get("links") or {}).get("next")
    if not link:
        return None
    values = parse_qs(urlparse(link).query).get("after")
    return values[0] if values else None


# -- S3 key layout -----------------------------------------------------------------------------
@dataclass
class FileEntry:
    """One file to back up: where it comes from and the key it lands at."""

    asset_id: str
    name: str
    path: str
    size: int | None
    xxh64: str | None
    version: int | None
    created_at: str = ""
    key: str = ""


def safe_segment(name: str) -> str:
    """A Frame.io name as one S3 key segment: no slashes, no empty or dot-only segments."""
    cleaned = name.replace("/", "_").replace("\\", "_").strip()
    if cleaned in ("", ".", ".."):
        cleaned = cleaned.replace(".", "_") or "_"
    return cleaned


def normalize_prefix(prefix: str) -> str:
    """A destination prefix that stays below the bucket's root: no leading slash, no empty, `.` or
    `..` segments (they are dropped, not resolved, so `../../etc` is `etc`), no trailing slash."""
    return "/".join(s for s in prefix.replace("\\", "/").split("/") if s.strip() not in ("", ".", ".."))


def key_from_segments(*segments: str) -> str:
    """Join path segments into one S3 key: no leading, trailing or doubled slashes, empty segments dropped."""
    return posixpath.join(*[s.strip("/") for s in segments if s and s.strip("/")])


def disambiguate(name: str, asset_id: str) -> str:
    """`clip.mov` -> `clip~<asset id>.mov`: readable, stable, and unique per asset."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name}~{asset_id}"
    return f"{stem}~{asset_id}.{ext}"


def assign_keys(entries: Iterable[FileEntry], destination_prefix: str) -> list[FileEntry]:
    """Set `key = {prefix}/{path}/{name}` on each entry. When several assets would land on one
    key, the oldest (then lowest id) keeps the plain name and the others get their asset id
    appended, so the result does not depend on listing order and a later upload never renames
    what an earlier backup wrote."""
    entries = list(entries)
    by_key: dict[str, list[FileEntry]] = {}
    for entry in entries:
        plain = key_from_segments(destination_prefix, entry.path, safe_segment(entry.name))
        by_key.setdefault(plain, []).append(entry)
    for plain, group in by_key.items():
        group.sort(key=lambda e: (e.created_at or "", e.asset_id))
        group[0].key = plain
        for entry in group[1:]:
            entry.key = key_from_segments(
                destination_prefix, entry.path, disambiguate(safe_segment(entry.name), entry.asset_id)
            )
    taken = [e.key for e in entries]
    if len(set(taken)) != len(taken):  # a disambiguated name equal to a real one: fall back to ids for all
        for entry in entries:
            entry.key = key_from_segments(
                destination_prefix, entry.path, disambiguate(safe_segment(entry.name), entry.asset_id)
            )
    return entries


def batch_sizes(counts: list[int], max_batches: int) -> int:
    """Files per batch so that batching every target's files separately stays within
    `max_batches` mapped tasks in total (one file per task whenever that fits)."""
    total = sum(counts)
    if total == 0:
        return 1
    room = max(1, max_batches - len(counts))
    return max(1, -(-total // room)) if total > max_batches else 1


def chunk(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def batch_label(files: list[FileEntry]) -> str:
    """What the grid shows for one transfer task: the file name, or the first and how many more."""
    if not files:
        return "no files"
    first = files[0].name
    return first if len(files) == 1 else f"{first} + {len(files) - 1} more"
