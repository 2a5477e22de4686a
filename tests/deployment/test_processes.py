"""Stopping what the local deployment started: by PID and start time, the whole family (orphans
in another process group included), SIGKILL for what ignores SIGTERM, and nobody else's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from include.local_stack.processes import Started, family, stop

# a component that forks a worker which moves to a process group of its own and ignores SIGTERM
# (as Airflow's task processes change group), which in turn runs a grandchild; it prints the PIDs
FAMILY = r"""
import os, signal, subprocess, sys, time
worker = os.fork()
if worker == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(os.getpid(), grandchild.pid, flush=True)
    time.sleep(600)
    os._exit(0)
time.sleep(600)
"""


def _sleeper(**kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], **kwargs)


@pytest.fixture
def bystander():
    """Someone else's process: its own session, not ours to stop."""
    proc = _sleeper(start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_a_dead_components_orphans_are_found_by_session_and_stopped(bystander):
    component = subprocess.Popen(
        [sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    worker, grandchild = (int(pid) for pid in component.stdout.readline().split())
    record = Started.of(component.pid)
    os.kill(component.pid, signal.SIGKILL)  # as the scheduler was killed: its worker is orphaned
    component.wait()
    assert os.getsid(worker) == component.pid and os.getpgid(worker) == worker
    assert {worker, grandchild} <= {p.pid for p in family([record])}

    stopped = stop([record], grace=1.0)

    assert {worker, grandchild} <= set(stopped)
    assert family([record]) == []
    for pid in (worker, grandchild):
        assert not Started(pid, 0.0).alive(), f"{pid} survived (the worker ignores SIGTERM: SIGKILL by PID)"
    assert bystander.poll() is None, "a process outside the recorded session is untouched"


def test_a_record_whose_pid_now_names_another_process_is_not_ours(bystander):
    stale = Started(bystander.pid, Started.of(bystander.pid).start - 3600)  # same PID, started an hour apart
    assert not stale.alive()
    assert family([stale]) == []
    assert stop([stale], grace=1.0) == []
    time.sleep(0.2)
    assert bystander.poll() is None
