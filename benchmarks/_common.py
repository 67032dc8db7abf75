"""Shared by the benchmarks: wall time of a block and the CPU other processes used meanwhile
(the machine may be shared, so every measurement says how busy it was), best-of-N timing."""
from __future__ import annotations

import os
import time


def _cpu_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # total, idle + iowait


class Meter:
    """Wall time of a block, and the CPU used meanwhile by other processes (in cores)."""

    def __enter__(self):
        self.t, self.ours = time.perf_counter(), os.times()
        try:
            self.cpu = _cpu_jiffies()
        except OSError:
            self.cpu = None
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t
        self.busy = float("nan")
        if self.cpu is not None:
            (t0, i0), (t1, i1) = self.cpu, _cpu_jiffies()
            hz = os.sysconf("SC_CLK_TCK")
            o0, o1 = self.ours, os.times()
            ours = (o1.user + o1.system + o1.children_user + o1.children_system
                    - o0.user - o0.system - o0.children_user - o0.children_system)
            busy_all = ((t1 - t0) - (i1 - i0)) / hz
            self.busy = max(0.0, (busy_all - ours) / max(self.wall, 1e-9))


def busy_now(dt: float = 0.25) -> float:
    """Fraction of all CPUs busy during the next dt seconds."""
    t0, i0 = _cpu_jiffies()
    time.sleep(dt)
    t1, i1 = _cpu_jiffies()
    return 1 - (i1 - i0) / max(t1 - t0, 1)


def wait_quiet(limit_s: float = 10.0, threshold: float = 0.15) -> bool:
    """Wait (up to limit_s) until the machine is idle, so a measurement does not start in another
    job's burst.  Returns whether it is."""
    t_end = time.time() + limit_s
    try:
        while time.time() < t_end:
            if busy_now() < threshold:
                return True
    except OSError:
        return True
    return False


def best_of(repeat: int, fn, busy_max: float = 0.3):
    """Run fn repeat times; return (result, wall, busy) of the fastest.  If even the fastest ran
    while other processes kept more than busy_max of a core busy, run once more -- but only if
    the machine has gone quiet (under contention a run can take many times longer)."""
    best = None
    for i in range(repeat + 1):
        quiet = wait_quiet()
        if i == repeat and (best[2] <= busy_max or not quiet):
            break
        with Meter() as m:
            out = fn()
        if best is None or m.wall < best[1]:
            best = (out, m.wall, m.busy)
    return best
