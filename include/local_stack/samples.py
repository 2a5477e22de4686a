"""Sample media for the demo: real H.264 + AAC from ffmpeg's test sources, no download."""

from __future__ import annotations

import subprocess
from pathlib import Path


def sample_video(path: Path, seconds: float, width: int, height: int, *, gop: int | None = None) -> Path:
    """`seconds` of the `testsrc2` pattern with a 440 Hz tone; `gop` frames between keyframes."""
    keyframes = ["-g", str(gop)] if gop else []
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", *keyframes, "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path
