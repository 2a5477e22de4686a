"""Filters and routing for the bulk copy: which objects go, and to which bucket and key.

A destination key is the route's prefix followed by the source key with `source_prefix`
removed, as `aws s3 cp --recursive` does. Routes are tried in order; the first whose file types
match wins, `*` matches anything, and an object no route matches is skipped and reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mediaflow.common.errors import InputError


def extension(key: str) -> str:
    """Lower-case extension of the last path segment without the dot ('' when there is none)."""
    dot = key.rfind(".")
    return key[dot + 1 :].lower() if dot > key.rfind("/") + 1 else ""


def normalize_types(types: Iterable[str] | None) -> frozenset[str]:
    """['.MP4', 'mov', '*'] -> {'mp4', 'mov', '*'}."""
    return frozenset(t.strip().lstrip(".").lower() for t in (types or ()) if t and t.strip())


def join_key(prefix: str, rest: str) -> str:
    """Prefix + rest, with exactly one slash between them when the prefix names a folder."""
    if not prefix:
        return rest
    if prefix.endswith("/") or not rest:
        return prefix + rest
    return f"{prefix}/{rest}"


@dataclass(frozen=True)
class Route:
    file_types: frozenset[str]
    bucket: str
    prefix: str = ""


@dataclass(frozen=True)
class ObjectFilter:
    """Filters from the conf; an object outside them is simply not part of the job."""

    file_types: frozenset[str] = frozenset()
    min_size: int | None = None
    max_size: int | None = None
    modified_after: float | None = None  # epoch seconds

    def accepts(self, key: str, size: int, last_modified: float) -> bool:
        if self.file_types and "*" not in self.file_types and extension(key) not in self.file_types:
            return False
        if self.min_size is not None and size < self.min_size:
            return False
        if self.max_size is not None and size > self.max_size:
            return False
        return not (self.modified_after is not None and last_modified and last_modified <= self.modified_after)

    @classmethod
    def from_conf(
        cls,
        file_types: Sequence[str] | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        modified_after: str | float | None = None,
    ) -> ObjectFilter:
        if min_size is not None and max_size is not None and min_size > max_size:
            raise InputError(f"min_size ({min_size}) is larger than max_size ({max_size}); swap or drop one")
        after = None
        if modified_after not in (None, ""):
            if isinstance(modified_after, int | float):
                after = float(modified_after)
            else:
                text = str(modified_after).replace("Z", "+00:00")
                try:
                    parsed = datetime.fromisoformat(text)
                except ValueError:
                    raise InputError(
                        f"modified_after {modified_after!r} is not a date and time; use ISO 8601 with a time zone, "
                        "e.g. 2024-05-01T00:00:00Z"
                    ) from None
                if parsed.tzinfo is None:
                    raise InputError(f"modified_after {modified_after!r} has no time zone; add one, e.g. Z")
                after = parsed.timestamp()
        return cls(normalize_types(file_types), min_size, max_size, after)


class Router:
    """Maps a source key to (destination bucket, destination key), or None when unrouted."""

    def __init__(self, routes: Sequence[Route], source_prefix: str = "") -> None:
        if not routes:
            raise InputError("no destination: set destination_bucket or at least one route")
        self.routes = tuple(routes)
        self.source_prefix = source_prefix
        self._first_takes_all = "*" in self.routes[0].file_types  # no extension needed: fast path

    @classmethod
    def from_conf(
        cls,
        routes: Sequence[dict[str, Any]] | None,
        destination_bucket: str | None,
        destination_prefix: str = "",
        source_prefix: str = "",
    ) -> Router:
        if routes:
            parsed = []
            for i, r in enumerate(routes):
                if not r.get("bucket"):
                    raise InputError(f"route {i} has no bucket; each route is {{file_types, bucket, prefix}}")
                types = normalize_types(r.get("file_types") or ["*"])
                parsed.append(Route(types, r["bucket"], r.get("prefix") or ""))
            return cls(parsed, source_prefix)
        if not destination_bucket:
            raise InputError("no destination: set destination_bucket or routes")
        return cls([Route(frozenset({"*"}), destination_bucket, destination_prefix or "")], source_prefix)

    def route(self, key: str) -> tuple[str, str] | None:
        if self._first_takes_all:
            r = self.routes[0]
        else:
            ext = extension(key)
            for r in self.routes:  # noqa: B007 - the matching route is used below
                if "*" in r.file_types or ext in r.file_types:
                    break
            else:
                return None
        sp = self.source_prefix
        rest = key[len(sp) :] if sp and key.startswith(sp) else key
        if sp and rest.startswith("/") and not sp.endswith("/"):
            rest = rest[1:]  # source_prefix "a/b" and key "a/b/c" -> "c", as the CLI does
        return r.bucket, join_key(r.prefix, rest)

    def single_target(self) -> tuple[str, str] | None:
        """(bucket, prefix) when every key goes to that bucket as prefix + key, else None: the
        planner then routes a row by one concatenation instead of a call to `route`."""
        r = self.routes[0]
        if not self._first_takes_all or self.source_prefix or (r.prefix and not r.prefix.endswith("/")):
            return None
        return r.bucket, r.prefix

    @property
    def buckets(self) -> list[str]:
        return list(dict.fromkeys(r.bucket for r in self.routes))
