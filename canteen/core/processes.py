"""Child processes that start and stop as one (`canteen up`).

Each child runs in its own process group, so a signal reaches the child and everything it forked
in that group (gunicorn's workers). Processes that made their own group (the stream supervisor's
ffmpeg relays and analyser) are stopped by their parent; in case a parent dies before it does,
`stop_all` remembers every descendant before signalling and kills whatever is left after the wait.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _group_and_parent_death() -> None:
    """Runs in the child before exec: SIGTERM when `canteen up` dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the process group still lets us stop it
        pass


def start(argv: Sequence[str], *, cwd: Path | str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a child in a new session (its own process group)."""
    return subprocess.Popen(  # noqa: S603 - an argv list we build, no shell
        list(argv),
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=_group_and_parent_death,  # noqa: PLW1509 - the spawning thread is the main thread
    )


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process, from /proc (empty where there is no /proc)."""
    table: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(entry.name)] = int(fields[1])
    return table


def descendants(pids: Iterable[int]) -> set[int]:
    """Every living process below the given ones (children, grandchildren, ...)."""
    parents = _parents()
    found: set[int] = set()
    frontier = set(pids)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(procs: Sequence[subprocess.Popen], *, timeout: float = 30.0, sig: int = signal.SIGTERM) -> list[int]:
    """Send `sig` to every child's process group, wait up to `timeout` seconds for all of them to
    exit, then SIGKILL what is left (groups and remembered descendants). Returns the pids killed."""
    remembered = descendants(p.pid for p in procs)
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            pass
    # Grandchildren in other groups (ffmpeg) exit with their parent; give them what is left.
    while any(alive(pid) for pid in remembered) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed: list[int] = []
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            killed.append(proc.pid)
    for pid in remembered | descendants(p.pid for p in procs):
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    return killed
