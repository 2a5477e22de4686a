"""`make bench`: start SeaweedFS, run the workloads, write the JSON, table and chart.

python -m bench.run                 # every workload, 3 runs each, full sizes
python -m bench.run --quick         # 1 run at tiny sizes (the smoke test uses this)
python -m bench.run --only W1,W7 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import Context, load_average
from bench.paths import RESULTS, ROOT, WORK
from bench.peers import Peers, missing_tools
from bench.report import chart, machine, markdown, table, write_json
from bench.servers import start_seaweedfs


def _workloads() -> dict[str, Callable[[Context], dict[str, Any]]]:
    from bench.workload_http import w4
    from bench.workload_plan import w6
    from bench.workload_video import w5
    from bench.workloads_copy import w1, w2, w3, w7

    return {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6, "W7": w7}


def _with_dag(ctx: Context, entry: dict[str, Any], runs: int) -> None:
    """W1 also times the whole DAG; its overhead counts toward W1's verdict."""
    from bench.workload_dag import w1_dag
    from bench.workloads_copy import w1_sizes

    expected = {f"obj-{i:05d}.bin": s for i, s in enumerate(w1_sizes(ctx.quick))}
    dag = w1_dag(ctx, entry["ours"]["median_s"], expected, runs)
    entry["dag"] = dag
    entry["target"] += "; DAG overhead (wall - engine) <= 15 s + 0.5 s per mapped task"
    entry["engine_met"] = entry["met"]
    entry["met"] = bool(entry["met"] and dag["overhead_met"])


def _commit() -> str:
    """The checkout's commit, with `+dirty` when engine or harness files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "plugins", "bench"], capture_output=True, text=True, cwd=ROOT
        )
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run at tiny sizes (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (default 3, 1 with --quick)")
    parser.add_argument("--only", default="", help="comma-separated workload ids, e.g. W1,W7")
    parser.add_argument("--no-dag", action="store_true", help="skip W1's `airflow dags test` timing")
    parser.add_argument("--dag-runs", type=int, default=None, help="W1 DAG runs (default: min(runs, 3))")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where latest.json and chart.png go")
    parser.add_argument("--work", type=Path, default=WORK / "run", help="scratch space, deleted afterwards")
    parser.add_argument("--keep-work", action="store_true", help="do not delete the scratch space")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other workloads of an existing latest.json (each entry records when it was measured)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    missing = missing_tools()
    if missing:
        print(f"missing tools: {', '.join(missing)}; run `make venv tools`", file=sys.stderr)
        return 2
    selected = _workloads()
    if args.only:
        wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
        selected = {k: v for k, v in selected.items() if k in wanted}
    os.chdir(ROOT)
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "runs_per_contender": runs,
        "load_average": {"start": load_average()},
        "workloads": {},
    }
    started = time.monotonic()
    commit = _commit()
    server = start_seaweedfs(work, work / "seaweedfs.log")
    print(f"SeaweedFS up after {time.monotonic() - started:.1f} s", flush=True)
    try:
        ctx = Context(server, Peers(server, work), work, args.quick, runs)
        for wid, fn in selected.items():
            print(f"== {wid}", flush=True)
            began, load_before = time.monotonic(), load_average()
            try:
                entry = fn(ctx)
                if wid == "W1" and not args.no_dag:
                    _with_dag(ctx, entry, args.dag_runs or min(runs, 3))
            except Exception as exc:  # noqa: BLE001 - one broken workload must not hide the others
                traceback.print_exc()
                entry = {"id": wid, "status": "error", "reason": f"{type(exc).__name__}: {exc}"[:500], "met": False}
            entry["duration_s"] = round(time.monotonic() - began, 1)
            entry["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            entry["commit"] = commit
            entry["load_average"] = {"start": load_before, "end": load_average()}
            print(f"   {wid} took {entry['duration_s']} s", flush=True)
            results["workloads"][wid] = entry
        results["machine"] = machine(work)
    finally:
        server.stop()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    results["load_average"]["end"] = load_average()
    results["duration_s"] = round(time.monotonic() - started, 1)
    previous = args.results / "latest.json"
    if args.merge and previous.exists():
        old = json.loads(previous.read_text())
        merged = {**old.get("workloads", {}), **results["workloads"]}
        results["workloads"] = dict(sorted(merged.items()))
        earlier = old.get("merged_from") or {}
        results["merged_from"] = {  # the workloads that carry no measurement time of their own
            "workloads": [w for w, e in results["workloads"].items() if "measured_at" not in e],
            "date": earlier.get("date") or old.get("machine", {}).get("date"),
            "load_average": earlier.get("load_average") or old.get("load_average"),
        }
    write_json(results, previous)
    chart(results, args.results / "chart.png")
    (args.results / "latest.md").write_text(markdown(results))
    print(table(results))
    print(f"\nwrote {args.results / 'latest.json'} and {args.results / 'chart.png'}")
    return 0 if all(e.get("status") == "measured" for e in results["workloads"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
