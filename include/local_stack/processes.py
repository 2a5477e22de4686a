"""Stop what the local deployment started, all of it, and nothing else.

Every long-running process of the deployment is started in a session of its own, and what it
forks stays in that session even after its parent dies and it is re-parented: Airflow's task
processes move to a process group of their own, but not to another session. So one record
(PID and start time) finds the whole family: the live process, its descendants, and every
process left in its session. Nothing is found by name, so other people's processes running the
same commands are never touched.

A PID is only trusted with its start time: PIDs are reused (pid_max may be as small as 32768),
and a record whose PID now belongs to a younger process is not ours any more. Start times are
read as seconds since boot, which clock adjustments do not move (psutil's wall-clock
`create_time` shifted by 20 s on a VM whose clock was synchronised). Linux does not hand out a
PID while a session still carries it as its id, so the members of a session whose leader died
are still the leader's family.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import psutil

#: two start marks closer than this are the same process
_SAME_START = 0.5


def start_mark(pid: int) -> float:
    """When `pid` started: seconds since boot from /proc on Linux (immune to clock changes),
    psutil's create_time elsewhere. Raises psutil.NoSuchProcess when it is not running."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except FileNotFoundError:
        raise psutil.NoSuchProcess(pid) from None
    except OSError:
        return psutil.Process(pid).create_time()
    # fields after "(comm)": state is field 3, starttime (clock ticks since boot) field 22
    return int(stat[stat.rindex(")") + 2 :].split()[19]) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Started:
    """A process we started: its PID and when it started (see `start_mark`)."""

    pid: int
    start: float  # `start_mark`; 0 when unknown

    @classmethod
    def of(cls, pid: int) -> Started | None:
        """The record of a live process, or None when `pid` is not running."""
        try:
            return cls(pid, start_mark(pid))
        except psutil.Error:
            return None

    @classmethod
    def from_json(cls, data: Any) -> Started:
        if isinstance(data, int):  # state files written before start times were recorded
            return cls(data, 0.0)
        return cls(int(data["pid"]), float(data.get("start", 0.0)))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None (exited, a zombie, or a reused PID)."""
        try:
            proc = psutil.Process(self.pid)
            if self.start and abs(start_mark(self.pid) - self.start) > _SAME_START:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            return None
        return proc

    def alive(self) -> bool:
        return self.process() is not None


def alive_pid(pid: int) -> bool:
    """True for a running process (a zombie has exited: it only waits for its parent)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _sid(proc: psutil.Process) -> int | None:
    try:
        return os.getsid(proc.pid)
    except OSError:
        return None


def _session_is_ours(record: Started) -> bool:
    """A live process holding the recorded PID must be the recorded one, else the session id
    was given to someone else after our whole session ended."""
    try:
        if psutil.Process(record.pid).status() == psutil.STATUS_ZOMBIE:
            return True
        return not record.start or abs(start_mark(record.pid) - record.start) <= _SAME_START
    except psutil.Error:
        return True


def family(records: Iterable[Started]) -> list[Started]:
    """The live processes that belong to `records`: each one, its descendants, and the rest of
    its session (orphans re-parented after their parent died)."""
    records = list(records)
    found: set[int] = set()
    for record in records:
        proc = record.process()
        if proc is None:
            continue
        found.add(proc.pid)
        try:
            found.update(child.pid for child in proc.children(recursive=True))
        except psutil.Error:
            pass
    sessions = {r.pid: r for r in records if _session_is_ours(r)}
    if sessions:
        for proc in psutil.process_iter():
            sid = _sid(proc)
            if sid not in sessions:
                continue
            record = sessions[sid]
            try:
                # a member of a session is never older than the session's leader
                if record.start and start_mark(proc.pid) < record.start - _SAME_START:
                    continue
            except psutil.Error:
                continue
            found.add(proc.pid)
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    members = (Started.of(pid) for pid in sorted(found - mine))
    return [m for m in members if m is not None and m.alive()]


def _signal(record: Started, sig: int) -> None:
    # by PID, after checking the start mark: psutil's own reuse check compares wall-clock times
    if record.alive():
        try:
            os.kill(record.pid, sig)
        except ProcessLookupError:
            pass


def _wait(records: list[Started], timeout: float) -> list[Started]:
    """Wait until every process has exited (reaping our own children); returns the rest."""
    deadline = time.monotonic() + timeout
    left = list(records)
    while left:
        for record in left:
            try:
                os.waitpid(record.pid, os.WNOHANG)
            except ChildProcessError:
                pass
        left = [r for r in left if r.alive()]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return left


def _listed(record: Started) -> bool:
    """Still in the process table: running, or a zombie its parent has not reaped yet."""
    try:
        return not record.start or abs(start_mark(record.pid) - record.start) <= _SAME_START
    except psutil.Error:
        return False


def _wait_reaped(records: list[Started], timeout: float) -> None:
    """Give the parents (PID 1 for orphans) a moment to reap, so that nothing of ours is even
    listed when we return; a parent that never reaps is not ours to wait for."""
    deadline = time.monotonic() + timeout
    while any(_listed(r) for r in records) and time.monotonic() < deadline:
        _wait(records, 0)
        time.sleep(0.1)


def terminate(procs: list[Started], grace: float = 15.0) -> list[Started]:
    """SIGTERM every process, SIGKILL by PID whatever is still alive after `grace` seconds.
    Returns the processes that survived even SIGKILL (none, unless stuck in the kernel)."""
    for record in procs:
        _signal(record, signal.SIGTERM)
    left = _wait(procs, grace)
    for record in left:
        _signal(record, signal.SIGKILL)
    left = _wait(left, 10)
    _wait_reaped(procs, 5)
    return left


def stop(records: Iterable[Started], grace: float = 15.0) -> list[int]:
    """Stop every process of `records`' families; returns the PIDs that were still running.

    Looks twice: a process may fork while its parent is being stopped."""
    records = list(records)
    stopped: list[int] = []
    for _ in range(2):
        procs = family(records)
        if not procs:
            break
        stopped.extend(p.pid for p in procs)
        left = terminate(procs, grace)
        if left:
            raise RuntimeError(f"processes survived SIGKILL: {[p.pid for p in left]}")
    return sorted(set(stopped))


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Stop a process we started (and its family) when all we kept is its PID."""
    record = Started.of(pid) or Started(pid, 0.0)
    stop([record], grace=timeout)
