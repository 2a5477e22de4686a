"""Multipart part sizing shared by the S3 copy engine and the Frame.io uploader.

S3 allows at most 10,000 parts of 5 MiB to 5 GiB each (the last part may be smaller). We start
at 64 MiB, which keeps request counts low, and double until the object fits in 10,000 parts.
There is deliberately no 5 TiB cap: S3 raised its object size limit, and the doubling rule
covers any size up to 10,000 x 5 GiB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mediaflow.common.errors import InputError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 64 * MiB


@dataclass(frozen=True)
class PartRange:
    """One part: S3 part numbers are 1-based; `end` is inclusive, as in an HTTP Range."""

    number: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    @property
    def http_range(self) -> str:
        return f"bytes={self.start}-{self.end}"


def choose_part_size(size: int, initial: int = DEFAULT_PART_SIZE, max_parts: int = MAX_PARTS) -> int:
    """Smallest `initial * 2**k` that splits `size` bytes into at most `max_parts` parts."""
    if size < 0:
        raise ValueError(f"object size must be >= 0, got {size}")
    if initial < 1:
        raise ValueError(f"part size must be positive, got {initial}")
    part = initial
    while -(-size // part) > max_parts:
        part *= 2
    if part > MAX_PART_SIZE and size <= MAX_PART_SIZE * max_parts:
        # doubling from 64 MiB jumps 4 GiB -> 8 GiB; 5 GiB parts reach 10,000 x 5 GiB (~53.7 TB)
        part = MAX_PART_SIZE
    if part > MAX_PART_SIZE:
        raise InputError(
            f"an object of {size} bytes needs parts of {part} bytes, above S3's 5 GiB part limit; "
            "it cannot be copied by multipart upload"
        )
    return part


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def iter_parts(size: int, part_size: int) -> Iterator[PartRange]:
    """The byte ranges of each part; a zero-byte object yields no parts."""
    start, number = 0, 1
    while start < size:
        end = min(start + part_size, size) - 1
        yield PartRange(number, start, end)
        start, number = end + 1, number + 1


def split_parts(parts: list[PartRange], groups: int) -> list[list[PartRange]]:
    """Spread parts over `groups` contiguous chunks of near-equal count (for mapped workers)."""
    groups = max(1, min(groups, len(parts)))
    base, extra = divmod(len(parts), groups)
    out, i = [], 0
    for g in range(groups):
        n = base + (1 if g < extra else 0)
        out.append(parts[i : i + n])
        i += n
    return out
