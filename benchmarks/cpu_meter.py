"""CPU and memory accounting from /proc: which process used the cores during a phase, and
what each role holds in memory."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from time import perf_counter as now

from service_under_test import Service

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_RABBIT = ("beam.smp", "erl_child_setup", "epmd", "inet_gethost")


def _postgres_role(pid: str, own_dbs: tuple[str, ...]) -> str:
    """A backend's title names its database: ours, another's (other tests), or none."""
    try:
        title = Path("/proc", pid, "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return "postgres"
    if any(db in title for db in own_dbs):
        return "postgres"
    return "other" if " sf_" in title else "postgres"


def _by_role(
    sessions: dict[str, set[int]], own_dbs: tuple[str, ...], unused: tuple[str, ...]
) -> Iterator[tuple[str, list[str]]]:
    """Every process as (role, the fields of /proc/<pid>/stat after its name). Servers in
    `unused` serve someone else: they count as other."""
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1 : raw.rfind(")")]
        rest = raw[raw.rfind(")") + 2 :].split()
        pid, session = int(entry.name), int(rest[3])
        role = next((r for r, s in sessions.items() if session in s), None)
        if pid == me:
            role = "bench client"
        elif role is None:
            if comm.startswith("redis-server"):
                role = "redis"
            elif comm == "postgres":
                role = _postgres_role(entry.name, own_dbs)
            elif comm in _RABBIT:
                role = "rabbitmq"
            else:
                role = "other"
        yield ("other" if role in unused else role), rest


def cpu_snapshot(
    sessions: dict[str, set[int]], own_dbs: tuple[str, ...] = (), unused: tuple[str, ...] = ()
) -> dict[str, float]:
    """Seconds of CPU by role."""
    used: Counter[str] = Counter()
    for role, rest in _by_role(sessions, own_dbs, unused):
        # own time plus reaped children's: short-lived PostgreSQL backends end up there
        used[role] += sum(int(x) for x in rest[11:15]) / _TICK
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    used["(machine busy)"] = (sum(fields[:3]) + fields[5] + fields[6]) / _TICK
    used["(steal)"] = fields[7] / _TICK if len(fields) > 7 else 0
    return dict(used)


def rss_by_role(service: Service) -> dict[str, int]:
    """Resident bytes by role, summed over each role's processes (a page that processes
    share, a prefork worker's with its parent, PostgreSQL's buffers, counts once in each).
    `redis` is every redis-server on the machine: read the service's own from INFO."""
    held: Counter[str] = Counter()
    for role, rest in _by_role(*_scope(service)):
        held[role] += int(rest[21]) * _PAGE
    return dict(held)


def _scope(
    service: Service,
) -> tuple[dict[str, set[int]], tuple[str, ...], tuple[str, ...]]:
    """The service's process sessions by role, its PostgreSQL databases, and the servers
    it does not use (their processes count as other)."""
    stack = service.stack
    own_dbs = tuple(stack._pg_names) if stack else ()
    unused: tuple[str, ...] = ()
    if stack is not None:
        unused = (() if stack.db == "postgres" else ("postgres",)) + (
            () if stack.broker == "rabbitmq" else ("rabbitmq",)
        )
    return service.sessions, own_dbs, unused


class CpuMeter:
    """Cores each role kept busy between start and stop. Redis, RabbitMQ and the
    PostgreSQL server processes are shared with anything else on the machine."""

    def __init__(self, service: Service) -> None:
        self.sessions, self.own_dbs, self.unused = _scope(service)
        self.start = cpu_snapshot(self.sessions, self.own_dbs, self.unused)
        self.t0 = now()

    def stop(self) -> dict[str, float]:
        end = cpu_snapshot(self.sessions, self.own_dbs, self.unused)
        wall = now() - self.t0
        cores = {k: (end.get(k, 0) - self.start.get(k, 0)) / wall for k in end}
        cores["(wall)"] = wall
        return cores
