"""The packing process of a planner (see `mediaflow.s3copy.planning.PackerProcess`)."""

from __future__ import annotations

import json
import sys

from mediaflow.s3copy.planning import pack_from_pipe

if __name__ == "__main__":
    pack_from_pipe(json.loads(sys.argv[1]), sys.stdin.buffer, sys.stdout)
