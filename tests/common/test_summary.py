"""The words of the end-of-run summaries."""

from __future__ import annotations

import pytest

from mediaflow.common.summary import human_bytes, plural


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "0 bytes"),
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (12 * 1024**3 + 512 * 1024**2, "12.5 GiB"),
        (3 * 1024**5, "3.0 PiB"),
        (5000 * 1024**5, "5000.0 PiB"),
    ],
)
def test_human_bytes(size, text):
    assert human_bytes(size) == text


def test_plural():
    assert plural(1, "object") == "1 object"
    assert plural(0, "object") == "0 objects"
    assert plural(1204, "payload") == "1,204 payloads"
    assert plural(2, "capture", "frame captures") == "2 frame captures"
