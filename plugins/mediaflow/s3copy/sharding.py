"""Split a bulk copy's source into shards that mapped plan tasks plan side by side.

- an S3 Inventory report: its data files, one shard each (several to a shard, balanced by
  size, when there are more files than shards);
- a Batch Operations CSV: byte ranges, which the reader cuts on line boundaries
  (`inventory.read_csv_range`); a gzip CSV cannot be cut and is one shard;
- a listing: the common prefixes under `source_prefix` (one level down, or two when there is
  a single folder), in key order, in contiguous groups; the objects directly under
  `source_prefix` are one more part. A flat listing (no folders) is one shard.

A shard is a small JSON-able dict; each part of a listing shard is listed in key order, so the
destination check stays a merge join over a sorted listing of the matching destination prefix.
"""

from __future__ import annotations

from typing import Any

from mediaflow.common.s3 import parse_s3_uri
from mediaflow.s3copy.inventory import inventory_manifest

#: mapped plan tasks of a run, unless the operator says otherwise (and never above max_map_length)
DEFAULT_SHARDS = 64
#: a Batch Operations CSV is cut into ranges of about this size (about 100,000 rows)
CSV_RANGE_BYTES = 8 * 1024**2


def split_source(
    client: Any,
    *,
    manifest_uri: str | None,
    source_bucket: str | None,
    source_prefix: str,
    max_shards: int,
    csv_range_bytes: int = CSV_RANGE_BYTES,
) -> list[dict[str, Any]]:
    """The shards of a source, numbered from 0, at most `max_shards` of them."""
    if manifest_uri:
        if parse_s3_uri(manifest_uri)[1].endswith(".json"):
            shards = split_inventory(inventory_manifest(client, manifest_uri), max_shards)
        else:
            shards = split_csv(client, manifest_uri, max_shards, csv_range_bytes)
    else:
        shards = split_listing(client, source_bucket or "", source_prefix, max_shards)
    return [dict(s, index=i) for i, s in enumerate(shards)]


def split_inventory(manifest: dict[str, Any], max_shards: int) -> list[dict[str, Any]]:
    """One shard per data file; with more files than shards, files go largest first to the
    smallest shard, and each shard reads its files in the report's order."""
    files = [(int(f.get("size") or 0), n, f["key"]) for n, f in enumerate(manifest.get("files", ()))]
    if not files:
        return [{"kind": "inventory", "files": []}]
    groups = balanced_groups(files, max_shards)
    return [{"kind": "inventory", "files": [key for _, _, key in sorted(g, key=lambda f: f[1])]} for g in groups]


def balanced_groups(items: list[tuple[int, int, str]], count: int) -> list[list[tuple[int, int, str]]]:
    """(size, order, name) items in at most `count` groups of about equal size."""
    if len(items) <= count:
        return [[item] for item in items]
    groups: list[list[tuple[int, int, str]]] = [[] for _ in range(count)]
    loads = [0] * count
    for item in sorted(items, reverse=True):
        i = loads.index(min(loads))
        groups[i].append(item)
        loads[i] += item[0]
    return [g for g in groups if g]


def split_csv(client: Any, manifest_uri: str, max_shards: int, range_bytes: int) -> list[dict[str, Any]]:
    bucket, key = parse_s3_uri(manifest_uri)
    if key.endswith(".gz"):
        return [{"kind": "csv"}]
    size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    count = max(1, min(max_shards, -(-size // range_bytes)))
    step = -(-size // count) if size else 1
    shards = [{"kind": "csv-range", "start": start, "end": start + step} for start in range(0, size, step)]
    if not shards:
        return [{"kind": "csv-range", "start": 0, "end": None}]
    shards[-1]["end"] = None  # to the end, whatever was appended since the HEAD
    return shards


def split_listing(client: Any, bucket: str, prefix: str, max_shards: int) -> list[dict[str, Any]]:
    """Parts of a listing: common prefixes in key order, grouped into at most `max_shards`
    contiguous shards; the objects directly under `prefix` ride with the first shard."""
    folders, direct = _folders(client, bucket, prefix)
    base = prefix
    if len(folders) == 1 and not direct:  # everything in one folder: split the folder instead
        base = folders[0]
        folders, direct = _folders(client, bucket, base)
    parts: list[dict[str, Any]] = [{"prefix": p} for p in folders]
    if direct or not folders:
        parts.insert(0, {"direct": base})
    count = min(max_shards, len(parts))
    per, extra = divmod(len(parts), count)
    shards, at = [], 0
    for i in range(count):
        n = per + (1 if i < extra else 0)
        shards.append({"kind": "listing", "parts": parts[at : at + n]})
        at += n
    return shards


def _folders(client: Any, bucket: str, prefix: str) -> tuple[list[str], bool]:
    """The common prefixes one level below `prefix` (delimiter '/'), and whether objects sit
    directly under it."""
    folders: list[str] = []
    direct = False
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()))
        direct = direct or bool(page.get("Contents"))
    return folders, direct
