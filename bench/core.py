"""Timing, destination checks and results shared by every workload.

Each workload is a list of contenders (ours and the peers). `measure` runs them alternately,
rotating who goes first each round so no tool always gets a warm or a cold server, checks the
destination after every run (a run whose copy did not happen raises instead of being timed),
and cleans the destination before the next run.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MiB = 1024**2
GiB = 1024**3


class CheckFailed(AssertionError):
    """The destination does not hold what the tool was asked to produce."""


class ToolFailed(RuntimeError):
    """A tool exited non-zero; the message carries the tail of its output."""


@dataclass
class Contender:
    """One tool in a workload. `run(tag)` does the work for destination `tag` and may return
    measurements of its own (peak RSS, engine time); `check(tag)` returns how many objects
    (or rows) it verified; `clean(tag)` removes the output before the next run."""

    name: str
    run: Callable[[str], dict[str, Any] | None]
    check: Callable[[str], int]
    clean: Callable[[str], None]
    settings: dict[str, Any] = field(default_factory=dict)
    is_ours: bool = False


@dataclass
class Stats:
    runs_s: list[float] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.runs_s)

    def extra_median(self, key: str) -> float | None:
        values = [e[key] for e in self.extra if isinstance(e.get(key), int | float)]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "median_s": round(self.median, 3),
            "runs_s": [round(r, 3) for r in self.runs_s],
            "destination_checks": len(self.checked),
            "objects_checked": self.checked,
        }
        keys = sorted({k for e in self.extra for k, v in e.items() if isinstance(v, int | float)})
        for key in keys:
            out[f"median_{key}"] = round(self.extra_median(key) or 0, 3)
        if self.settings:
            out["settings"] = self.settings
        return out


def measure(contenders: list[Contender], runs: int, log: Callable[[str], None] = print) -> dict[str, Stats]:
    """Run every contender `runs` times, alternating, each run checked and cleaned up."""
    stats = {c.name: Stats(settings=c.settings) for c in contenders}
    for round_no in range(runs):
        shift = round_no % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", c.name) + f"-r{round_no}"
            c.clean(tag)
            cpu_before = _children_cpu()
            started = time.perf_counter()
            extra = c.run(tag) or {}
            elapsed = time.perf_counter() - started
            extra = {**extra, "cpu_s": _children_cpu() - cpu_before}
            checked = c.check(tag)
            if checked <= 0:
                raise CheckFailed(f"{c.name}: the destination check verified nothing for run {tag}")
            c.clean(tag)
            s = stats[c.name]
            s.runs_s.append(elapsed)
            s.checked.append(checked)
            s.extra.append(extra)
            log(f"  {c.name:<14} run {round_no + 1}/{runs}: {elapsed:8.2f} s  ({checked} checked)")
    return stats


def _children_cpu() -> float:
    """User + system CPU seconds of finished child processes (the tools run as children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_tool(args: list[str] | str, env: dict[str, str], *, cwd: str | None = None, timeout: float = 3600) -> str:
    """Run a tool to completion; raise ToolFailed with its output tail when it fails."""
    proc = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        shell=isinstance(args, str),
        executable="/bin/bash" if isinstance(args, str) else None,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        # the program's own name, not its path: results are committed and shared
        name = args if isinstance(args, str) else " ".join([os.path.basename(args[0]), *args[1:3]])
        tail = (proc.stderr or proc.stdout).decode(errors="replace")[-1500:]
        raise ToolFailed(f"{name} exited {proc.returncode}: {tail}")
    return proc.stdout.decode(errors="replace")


def last_json_line(output: str) -> dict[str, Any]:
    """The measurement a `bench.ours` subprocess prints as its last stdout line."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ToolFailed(f"no result line in output: {output[-500:]}")


# -- S3 destination checks --------------------------------------------------------------------------
def list_sizes(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Relative key -> size of every object under `prefix`."""
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            out[obj["Key"][len(prefix) :]] = int(obj["Size"])
    return out


def check_copy(s3: Any, bucket: str, prefix: str, expected: dict[str, int]) -> int:
    """Count and sizes under `prefix` equal `expected` (relative key -> size)."""
    got = list_sizes(s3, bucket, prefix)
    if len(got) != len(expected):
        missing = sorted(set(expected) - set(got))[:3]
        raise CheckFailed(f"s3://{bucket}/{prefix}: {len(got)} objects, expected {len(expected)} (missing {missing})")
    wrong = [k for k, size in expected.items() if got.get(k) != size]
    if wrong:
        k = wrong[0]
        raise CheckFailed(f"s3://{bucket}/{prefix}{k}: {got.get(k)} bytes, expected {expected[k]}")
    return len(got)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete everything under `prefix` (1,000 keys a request); aborts open uploads too."""
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    try:
        for upload in s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", ()):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    except Exception as exc:  # noqa: BLE001 - servers without the listing still delete the objects
        print(f"note: could not list open uploads under s3://{bucket}/{prefix}: {exc}")
    return deleted


def python_env() -> dict[str, str]:
    """PYTHONPATH so `python -m bench.ours` imports `mediaflow` (plugins/) and `include`."""
    from bench.paths import ROOT

    path = [str(ROOT / "plugins"), str(ROOT)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {"PYTHONPATH": os.pathsep.join(path)}
