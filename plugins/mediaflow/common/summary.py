"""Words for the end-of-run summaries the last task of each DAG logs: sizes and counts a person
reads at a glance."""

from __future__ import annotations

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(size: int | float | None) -> str:
    """`1536` -> `1.5 KiB`; whole bytes below 1 KiB (`0 bytes`, `1 byte`, `900 bytes`)."""
    value = float(size or 0)
    if value < 1024:
        n = int(value)
        return f"{n} byte" if n == 1 else f"{n} bytes"
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.1f} {_UNITS[unit]}"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 object`, `2 objects`, `1,204 objects`."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"
