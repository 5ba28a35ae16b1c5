"""CPU accounting for one measured window: the service, PostgreSQL, the load generator, the machine.

Read before and after a window; the differences, divided by the window's wall time, are "cores
busy" (1.0 = one core fully used). On a 2-core machine shared by all of them this tells who ran
out of CPU first.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

import psutil


def _proc_cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def _tree_cpu(root: psutil.Process | None) -> float:
    """A process, its live children, and the children it already reaped (postmaster + backends)."""
    if root is None:
        return 0.0
    try:
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in root.children(recursive=True):
            total += _proc_cpu(child)
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


@dataclass
class Snapshot:
    wall: float
    service: float
    postgres: float
    self_cpu: float
    children: float
    machine_busy: float
    machine_total: float
    steal: float


@dataclass
class CpuProbe:
    service_pid: int | None = None
    postgres_pid: int | None = None  # the postmaster, when PostgreSQL runs on this machine
    _service: psutil.Process | None = field(default=None, init=False)
    _postgres: psutil.Process | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._service = _process(self.service_pid)
        self._postgres = _process(self.postgres_pid)

    def snapshot(self) -> Snapshot:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children: the load generators
        machine = psutil.cpu_times()
        idle = machine.idle + getattr(machine, "iowait", 0.0)
        total = sum(machine)
        return Snapshot(
            wall=time.perf_counter(),
            service=_proc_cpu(self._service),
            postgres=_tree_cpu(self._postgres),
            self_cpu=own.ru_utime + own.ru_stime,
            children=kids.ru_utime + kids.ru_stime,
            machine_busy=total - idle,
            machine_total=total,
            steal=getattr(machine, "steal", 0.0),
        )

    @staticmethod
    def usage(before: Snapshot, after: Snapshot, events: int) -> dict[str, float | None]:
        """Cores busy per party over the window, and CPU milliseconds per 1,000 events."""
        wall = max(after.wall - before.wall, 1e-9)
        ncpu = os.cpu_count() or 1
        machine_span = max(after.machine_total - before.machine_total, 1e-9)
        out: dict[str, float | None] = {
            "cpu_service_cores": (after.service - before.service) / wall,
            "cpu_postgres_cores": (after.postgres - before.postgres) / wall,
            "cpu_bench_cores": (after.self_cpu - before.self_cpu) / wall,
            "cpu_loadgen_cores": (after.children - before.children) / wall,
            "cpu_machine_busy_pct": 100 * (after.machine_busy - before.machine_busy) / machine_span,
            "cpu_steal_pct": 100 * (after.steal - before.steal) / machine_span,
            "cpu_count": float(ncpu),
        }
        known = sum(v or 0.0 for k, v in out.items()
                    if k in ("cpu_service_cores", "cpu_postgres_cores", "cpu_bench_cores", "cpu_loadgen_cores"))
        # what else ran on the machine meanwhile (other people's jobs on a shared machine, kernel threads)
        out["cpu_other_cores"] = max(0.0, out["cpu_machine_busy_pct"] / 100 * ncpu - known)
        if events > 0:
            out["cpu_ms_per_1k_service"] = 1e6 * (after.service - before.service) / events
            out["cpu_ms_per_1k_postgres"] = 1e6 * (after.postgres - before.postgres) / events
        return out


def _process(pid: int | None) -> psutil.Process | None:
    if not pid:
        return None
    try:
        return psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
