"""W6: plan S3 Inventory rows into payload manifests, as the bulk copy's mapped plan tasks do:
time and peak RSS of one plan task at 1 M and 10 M rows, and the same 10 M rows as 8 data files
planned by 8 processes side by side, then merged into copy tasks. No peer does this step.

The inventory is written as S3 writes one (gzip CSV data files) to local disk and read from
there: the measurement is the planner's and the reader's, not a local S3 server's. Each plan
runs in its own process (`python -m bench.ours plan`), which packs in a second process as a
plan task on a multi-core worker does, and reports the peak RSS of both (VmHWM from /proc, and
the packer's ru_maxrss); the check reads the payload index it wrote and counts every row back.
"""

from __future__ import annotations

import gzip
import random
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.context import DST, SRC, Context
from bench.core import CheckFailed, Contender, ToolFailed, last_json_line, measure, run_tool

TIME_LIMIT_S, RSS_LIMIT_MIB, RSS_GROWTH_LIMIT = 90.0, 512.0, 1.25
SCHEMA = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"
SHARDS = 8


def write_data_file(path: Path, start: int, stop: int, seed: int) -> int:
    """Rows `start`..`stop` of a synthetic inventory: URL-encoded keys under ~1,000 prefixes,
    sizes log-uniform from 1 KiB to 8 GiB. Returns the row count."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=1, newline="") as out:
        lines = []
        for i in range(start, stop):
            size = int(2 ** rng.uniform(10, 33))
            lines.append(
                f'"{SRC}","media/project-{i % 997:03d}/clip%20{i:08d}.mov","{size}",'
                f'"2025-01-{1 + i % 28:02d}T10:{i % 60:02d}:00.000Z","{rng.getrandbits(128):032x}","STANDARD"\n'
            )
            if len(lines) >= 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return stop - start


def write_inventory(work: Path, rows: int, files: int, name: str) -> list[Path]:
    """`rows` rows in `files` gzip CSV data files, written by two processes."""
    per = -(-rows // files)
    paths = [work / name / f"data-{f:02d}.csv.gz" for f in range(files)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(write_data_file, path, f * per, min(rows, (f + 1) * per), seed=6 + f)
            for f, path in enumerate(paths)
        ]
        written = sum(job.result() for job in jobs)
    assert written == rows
    return paths


def _plan_cmd(ctx: Context, data: list[Path], out: Path) -> list[str]:
    args = ["plan", "--data", *map(str, data), "--schema", SCHEMA, "--dst-bucket", DST, "--out", str(out)]
    return ctx.ours(*args)


def _count_planned(out: Path) -> int:
    """Objects in the payload index a plan wrote (the manifest's members, line by line)."""
    return sum(int(line.split()[2]) for line in (out / "payloads.bins").read_bytes().splitlines())


def _one_task(ctx: Context, label: str, data: list[Path], rows: int) -> Contender:
    out = ctx.work / "w6" / label

    def run(tag: str) -> dict[str, Any]:
        return last_json_line(run_tool(_plan_cmd(ctx, data, out), ctx.ours_env()))

    def check(tag: str) -> int:
        planned = _count_planned(out)
        if planned != rows:
            raise CheckFailed(f"{label}: {planned} objects in the payloads, expected {rows}")
        return planned

    def clean(tag: str) -> None:
        subprocess.run(["rm", "-rf", str(out)], check=False)

    settings = {
        "engine": "iter_inventory_rows -> Planner.add_all/pack/write_manifests (python -m bench.ours plan)",
        "inventory": f"{len(data)} gzip CSV data files on local disk, schema '{SCHEMA}'",
    }
    return Contender(label, run, check, clean, settings, is_ours=True)


def _split(ctx: Context, data: list[Path], rows: int) -> Contender:
    """The 8 data files planned by 8 processes at once, then merged into copy tasks."""
    outs = [ctx.work / "w6" / f"shard-{i}" for i in range(len(data))]
    last: dict[str, Any] = {}

    def run(tag: str) -> dict[str, Any]:
        procs = [
            subprocess.Popen(
                _plan_cmd(ctx, [path], out), env=ctx.ours_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for path, out in zip(data, outs, strict=True)
        ]
        results = []
        for proc in procs:
            stdout, stderr = proc.communicate()
            if proc.returncode:
                raise ToolFailed(f"plan shard exited {proc.returncode}: {stderr.decode()[-1500:]}")
            results.append(last_json_line(stdout.decode()))
        planned = time.perf_counter()
        merge = last_json_line(run_tool(ctx.ours("merge", "--spool", *map(str, outs)), ctx.ours_env()))
        last.clear()
        last.update(merge)
        return {
            "maxrss_mib": max(r["maxrss_mib"] for r in results),
            "slowest_shard_s": max(r["engine_s"] + r["setup_s"] for r in results),
            "merge_s": round(time.perf_counter() - planned, 3),
            "merge_maxrss_mib": merge["maxrss_mib"],
            "tasks": merge["tasks"],
            "payloads": sum(r["payloads"] for r in results),
            "shards_packing_in_a_second_process": sum(bool(r.get("packing_process")) for r in results),
        }

    def check(tag: str) -> int:
        planned = sum(_count_planned(out) for out in outs)
        if planned != rows or last.get("objects") != rows or not 0 < last.get("tasks", 0) <= 1024:
            raise CheckFailed(f"split: {planned} planned, merge {last}, expected {rows} objects in 1..1024 tasks")
        return planned

    def clean(tag: str) -> None:
        for out in outs:
            subprocess.run(["rm", "-rf", str(out)], check=False)

    settings = {
        "engine": f"{len(data)} x python -m bench.ours plan (one data file each, at once), then bench.ours merge",
        "inventory": f"{len(data)} gzip CSV data files on local disk",
    }
    return Contender("split", run, check, clean, settings, is_ours=True)


def w6(ctx: Context) -> dict[str, Any]:
    small_rows, large_rows = (2_000, 16_000) if ctx.quick else (1_000_000, 10_000_000)
    ctx.log(f"W6: writing {small_rows:,} and {large_rows:,} inventory rows (gzip CSV, local disk)")
    small = write_inventory(ctx.work / "w6-data", small_rows, 1, "small")
    large = write_inventory(ctx.work / "w6-data", large_rows, SHARDS, "large")
    # the 10 M runs take minutes each: one run each in full mode, as many as asked in quick mode
    big_runs = ctx.runs if ctx.quick else 1
    one_small = measure([_one_task(ctx, "ours", small, small_rows)], ctx.runs, ctx.log)["ours"]
    one_large = measure([_one_task(ctx, "ours", large, large_rows)], big_runs, ctx.log)["ours"]
    split = measure([_split(ctx, large, large_rows)], big_runs, ctx.log)["split"]
    seconds = one_large.median
    rss_small = one_small.extra_median("maxrss_mib") or 0.0
    rss = one_large.extra_median("maxrss_mib") or 0.0
    growth = round(rss / rss_small, 3) if rss_small else 0.0
    split_s, split_rss = split.median, split.extra_median("maxrss_mib") or 0.0
    met = {
        "time": seconds <= TIME_LIMIT_S,
        "rss": rss <= RSS_LIMIT_MIB,
        "rss_growth": growth <= RSS_GROWTH_LIMIT,
        "split_faster": split_s < seconds,
        "split_rss": split_rss <= RSS_LIMIT_MIB,
    }
    return {
        "id": "W6",
        "title": f"plan {large_rows:,} S3 Inventory rows: one task, and {SHARDS} shards at once",
        "status": "measured",
        "target": f"one task at {large_rows:,} rows <= {TIME_LIMIT_S:.0f} s and <= {RSS_LIMIT_MIB:.0f} MiB peak RSS, "
        f"peak RSS <= {RSS_GROWTH_LIMIT}x its value at {small_rows:,} rows; {SHARDS} shards side by side faster, "
        f"each <= {RSS_LIMIT_MIB:.0f} MiB (ratio = one-task time / {TIME_LIMIT_S:.0f} s)",
        "target_ratio": 1.0,
        "ours": one_large.to_json(),
        "peers": {},
        "ratio": round(seconds / TIME_LIMIT_S, 3),
        "peak_rss_mib": rss,
        "payloads": int(one_large.extra_median("payloads") or 0),
        "one_task_small": dict(one_small.to_json(), rows=small_rows),
        "rss_growth_ratio": growth,
        "split": dict(split.to_json(), shards=SHARDS, wall_s=round(split_s, 3), largest_peak_rss_mib=split_rss),
        "met_by_target": met,
        "met": all(met.values()),
        "sizes": {"rows": large_rows, "rows_small": small_rows, "shards": SHARDS},
        "machine_load_note": "one plan task is two Python processes (reading, packing) on the 2 cores; the split runs 8 "
        "plan tasks at once on the same cores, and only those that get a packing slot (one per 2 cores) pack in a "
        "second process (spare_core)",
    }
