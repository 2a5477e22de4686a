"""Which botocore retry mode holds up under S3 SlowDown with the copy engine's concurrency.

python -m bench.throttle_modes                # 3 runs per mode and scenario, full payload
python -m bench.throttle_modes --quick        # 1 run, a small payload

The copy engine (32 threads sharing one client, through `python -m bench.ours copy`, as the
copy task runs it) copies one payload from SeaweedFS to SeaweedFS through a throttling front
(bench/throttle.py), once per retry mode (`standard`, `adaptive`) and scenario:

- `none`: no throttling, the cost of each mode when nothing is throttled;
- `rate-<n>`: at most n requests a second (`--rates`), the rest answered 503 SlowDown (how S3
  treats a prefix asked for more than it serves): a little, and far, below what the engine asks;
- `share`: a random `--share` of requests answered SlowDown, whatever the rate.

Each run records objects failed (and their error codes), requests the front received and
SlowDowns it answered, API calls the client made (so retries = requests - calls), uploads left
open, and wall time. Results go to bench/results/throttle.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import DST, SRC, Context, load_average
from bench.core import MiB, last_json_line, list_sizes, run_tool
from bench.paths import RESULTS, WORK
from bench.peers import Peers
from bench.servers import start_seaweedfs
from bench.throttle import Policy, RateCap, Share, ThrottleFront

MODES = ("standard", "adaptive")
THREADS = 32
MULTIPART_THRESHOLD = 8 * MiB  # parts of 8 MiB: 40 MiB objects are copied in 5 parts


def payload_sizes(quick: bool) -> list[int]:
    """A few thousand small objects and some multipart ones (all in one payload)."""
    small, large = (200, 2) if quick else (3000, 8)
    return [4 * 1024] * small + [40 * MiB] * large


def scenarios(rates: list[float], share: float) -> dict[str, list[Policy]]:
    """Fresh policies (token buckets, random state) for each scenario."""
    capped = {f"rate-{r:g}": [RateCap(r, burst=max(1.0, r / 10))] for r in rates}
    return {"none": [], **capped, "share": [Share(share, seed=11)]}


def one_run(ctx: Context, mode: str, policies: list[Policy], expected: dict[str, int], tag: str) -> dict[str, Any]:
    """Copy the payload once through a fresh front; the destination is checked, then cleaned."""
    dst_prefix = f"throttle/{tag}/"
    ctx.clean_dst(dst_prefix)
    with ThrottleFront(ctx.server.endpoint, policies) as front:
        env = dict(ctx.ours_env(), BENCH_S3_ENDPOINT=front.endpoint)
        args = ctx.ours("copy", "--src-bucket", SRC, "--src-prefix", "throttle-src/", "--dst-bucket", DST)
        args += ["--dst-prefix", dst_prefix, "--threads", str(THREADS), "--retry-mode", mode, "--keep-going"]
        args += ["--multipart-threshold", str(MULTIPART_THRESHOLD)]
        started = time.perf_counter()
        out = last_json_line(run_tool(args, env, timeout=3600))
        wall = time.perf_counter() - started
        stats = front.stats()
    got = list_sizes(ctx.s3, DST, dst_prefix)
    open_uploads = len(ctx.s3.list_multipart_uploads(Bucket=DST, Prefix=dst_prefix).get("Uploads", []))
    ctx.clean_dst(dst_prefix)
    calls = sum(v for k, v in out.items() if k.startswith("requests_"))
    return {
        "wall_s": round(wall, 2),
        "engine_s": round(out["engine_s"], 2),
        "objects": out["objects"],
        "failed": out["failed"],
        "failed_codes": out["failed_codes"],
        "copied_correctly": sum(got.get(k) == size for k, size in expected.items()),
        "open_uploads": open_uploads,
        "requests": stats["requests"],
        "slowdowns": stats["answered"],
        "api_calls": calls,
        "retries": stats["requests"] - calls,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    numeric = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    out: dict[str, Any] = {f"median_{k}": statistics.median(r[k] for r in runs) for k in numeric}
    out["max_failed"] = max(r["failed"] for r in runs)
    out["runs"] = runs
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | mode | objects failed (median, max) | requests | SlowDowns answered | retries | wall s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, modes in results["scenarios"].items():
        for mode, s in modes.items():
            lines.append(
                f"| {name} | {mode} | {s['median_failed']:g} ({s['max_failed']}) | {s['median_requests']:g} | "
                f"{s['median_slowdowns']:g} | {s['median_retries']:g} | {s['median_wall_s']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throttle_modes", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run, a small payload")
    parser.add_argument("--runs", type=int, default=None, help="runs per mode and scenario (default 3, 1 with --quick)")
    parser.add_argument("--rates", default="100,25", help="requests a second the `rate-<n>` fronts let through")
    parser.add_argument("--share", type=float, default=0.05, help="share of requests the `share` front throttles")
    parser.add_argument("--only", default="", help="comma-separated scenarios (none, rate-<n>, share)")
    parser.add_argument("--results", type=Path, default=RESULTS / "throttle.json")
    parser.add_argument("--work", type=Path, default=WORK / "throttle")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    names = [n for n in scenarios(rates, args.share) if not args.only or n in args.only.split(",")]
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server = start_seaweedfs(work, work / "seaweedfs.log")
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": {"start": load_average()},
        "settings": {
            "threads": THREADS,
            "multipart_threshold": MULTIPART_THRESHOLD,
            "rates": rates,
            "share": args.share,
            "runs": runs,
            "server": "SeaweedFS (weed mini) on loopback, behind bench/throttle.py",
        },
        "scenarios": {},
    }
    try:
        ctx = Context(server, Peers(server, work), work, args.quick, runs)
        sizes = payload_sizes(args.quick)
        expected = ctx.seed("throttle-src/", sizes)
        results["payload"] = {"objects": len(sizes), "multipart_objects": sum(s > MULTIPART_THRESHOLD for s in sizes)}
        for name in names:
            per_mode: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
            for round_no in range(runs):
                order = MODES if round_no % 2 == 0 else MODES[::-1]  # alternate who goes first
                for mode in order:
                    policies = scenarios(rates, args.share)[name]  # fresh token bucket and random state
                    run = one_run(ctx, mode, policies, expected, f"{name}-{mode}-r{round_no}")
                    per_mode[mode].append(run)
                    print(f"{name:6} {mode:9} run {round_no + 1}: {json.dumps(run)}", flush=True)
            results["scenarios"][name] = {m: summarize(r) for m, r in per_mode.items()}
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["load_average"]["end"] = load_average()
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
