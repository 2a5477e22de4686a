"""The output naming the operator checks (plugins/mediaflow/mediaconvert/jobs.py), shared with the
local service so that both name every object the same way.

The service runs as `python -m include.local_stack.mediaconvert_service` from the repository root,
where `plugins/` (Airflow's plugins folder) is not on the path; this module puts it there once.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PLUGINS = str(Path(__file__).resolve().parents[2] / "plugins")
if _PLUGINS not in sys.path:
    sys.path.append(_PLUGINS)

from mediaflow.mediaconvert import jobs  # noqa: E402

__all__ = ["jobs"]
