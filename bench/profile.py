"""Profile one of our engines on a benchmark workload with py-spy (install it yourself into the
venv: `pip install py-spy`; it is not a project dependency).

    python -m bench.profile W1        # the copy engine on W1's objects
    python -m bench.profile W7        # the raw CopyObject script (the ceiling), for comparison
    python -m bench.profile W4        # HttpToS3 on a 1 GiB file from the local Range server
    python -m bench.profile W6        # the planner on a 1,000,000-row inventory

Writes py-spy's collapsed stacks (feed them to flamegraph.pl or speedscope for a picture) and a
text summary of where the time goes to bench/results/profiles/<id>-<engine>.*
"""

from __future__ import annotations

import argparse
import collections
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

from bench.context import DST, SRC, Context
from bench.core import GiB, run_tool
from bench.paths import RESULTS, WORK, tool
from bench.peers import Peers
from bench.servers import free_port, start_seaweedfs, stop_pid, wait_http


def _step(frames: list[str]) -> str:
    """The innermost package function in a stack, without line numbers: the engine step
    (`_up_to_date`, `_copy_small`, `_verify`, ...) that a sample's time belongs to."""
    for frame in reversed(frames):
        if "mediaflow/" in frame and "retry.py" not in frame and "<lambda>" not in frame and "._call " not in frame:
            name, _, where = frame.partition(" (")
            return f"{name} ({where.split(':')[0]})"
    return "(outside mediaflow: interpreter start, imports, idle pool threads)"


def top_functions(collapsed: Path, n: int = 25) -> str:
    """Own ('self') and total sample share per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        k = int(count)
        samples += k
        own[frames[-1]] += k
        for frame in set(frames):
            total[frame] += k
        ours[_step(frames)] += k
    out = [f"{samples} samples (all threads); share of samples with the function on the stack (total) or on top (self)"]
    out.append("\ninnermost mediaflow function on the stack (where the package's time goes)")
    out += [f"{100 * c / samples:5.1f}%  {f}" for f, c in ours.most_common(12)]
    out.append("\ntotal  function")
    out += [f"{100 * c / samples:5.1f}%  {f}" for f, c in total.most_common(n)]
    out.append("\nself   function")
    out += [f"{100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(n)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("workload", choices=["W1", "W7", "W4", "W6"])
    parser.add_argument("--out", type=Path, default=RESULTS / "profiles")
    parser.add_argument("--rate", type=int, default=50)
    args = parser.parse_args(argv)
    spy = tool("py-spy")
    if not spy:
        print("py-spy is missing: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    work = WORK / "profile"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = start_seaweedfs(work, work / "seaweedfs.log")
    http = None
    try:
        ctx = Context(server, Peers(server, work), work, quick=False, runs=1)
        if args.workload in ("W1", "W7"):
            from bench.workloads_copy import w1_sizes

            ctx.seed("w1/", w1_sizes(False))
            engine = "copy" if args.workload == "W1" else "ceiling"
            cmd = ctx.ours(engine, "--src-bucket", SRC, "--src-prefix", "w1/", "--dst-bucket", DST)
            cmd += ["--dst-prefix", "profile/", "--threads", "32"]
            if engine == "copy":
                cmd += ["--multipart-threshold", str(5 * GiB)]
        elif args.workload == "W6":
            from bench.workload_plan import SCHEMA, write_inventory

            data = write_inventory(work, 1_000_000, 1, "w6")
            engine = "plan"
            cmd = ctx.ours("plan", "--data", *map(str, data), "--schema", SCHEMA, "--dst-bucket", DST)
            cmd += ["--out", str(work / "w6-plan")]
        else:
            size = 1024**3
            ctx.write_file(work / "http" / "original.mov", size, seed=4)
            port = free_port()
            http = subprocess.Popen(
                [sys.executable, "-m", "bench.http_server", "--dir", str(work / "http"), "--port", str(port)],
                env={**ctx.ours_env()},
                start_new_session=True,
            )
            url = f"http://127.0.0.1:{port}/original.mov"
            wait_http(f"http://127.0.0.1:{port}/", proc=http)
            engine = "http"
            cmd = ctx.ours("http", "--url", url, "--bucket", DST, "--key", "profile/original.mov", "--size", str(size))
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"{args.workload}-{engine}"
        collapsed = work / "profile.collapsed"
        ctx.clean_dst("profile/")
        # --nonblocking: never pause the engine's threads (a paused pool distorts the waits)
        spy_cmd = [spy, "record", "--nonblocking", "--threads", "--rate", str(args.rate), "--format", "raw"]
        spy_cmd += ["--output", str(collapsed), "--", *cmd]
        print(run_tool(spy_cmd, ctx.ours_env())[-400:])
        Path(str(stem) + ".collapsed.gz").write_bytes(gzip.compress(collapsed.read_bytes()))
        summary = top_functions(collapsed)
        Path(str(stem) + ".txt").write_text(summary + "\n")
        print(summary)
    finally:
        if http is not None:
            stop_pid(http.pid)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
