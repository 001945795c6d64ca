"""Turning timings and CPU samples into the figures a run prints."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from load_phases import Run


@dataclass(frozen=True)
class Targets:
    """Issue 17's targets for one shape of the service, on a quiet 2-core machine."""

    rate: float  # submissions/s end to end
    floor_ratio: float  # of the no-op floor, same run
    worker_ms: float  # worker CPU ms per submission
    p99_ms: float = 50.0  # submit -> notified at half `rate`


TARGETS = {
    ("sqlite", "redis"): Targets(rate=450, floor_ratio=0.5, worker_ms=1.2),
    ("postgres", "rabbitmq"): Targets(rate=350, floor_ratio=0.35, worker_ms=1.5),
}


def targets_for(db: str, broker: str) -> Targets:
    """The shape's targets; a mixed shape is held to the production one's."""
    return TARGETS.get((db, broker), TARGETS[("postgres", "rabbitmq")])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def latencies_ms(run: Run, arrived: dict[str, float]) -> list[float]:
    return [(arrived[r] - s) * 1000 for r, s in run.started.items() if r in arrived]


def accepted_ms(run: Run) -> list[float]:
    """Submit -> 202 of each accepted submission: the api's share of the latency."""
    return [(run.accepted[r] - s) * 1000 for r, s in run.started.items() if r in run.accepted]


def quantiles(values: list[float]) -> dict[int, float]:
    return {q: pct(values, q / 100) for q in (50, 95, 99)}


def print_failures(run: Run) -> None:
    if run.failures or run.missing:
        print(f"  failures: {dict(run.failures)}; never notified: {run.missing}")


def describe(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {pct(values, 0.5):7.1f}  p95 {pct(values, 0.95):7.1f}  "
        f"p99 {pct(values, 0.99):7.1f}  max {max(values):7.1f} ms"
    )


SERVICE_ROLES = ("api", "worker", "redis", "postgres", "rabbitmq")


def cpu_cost(cpu: dict[str, float], count: int, roles: tuple[str, ...]) -> dict[str, float]:
    """CPU milliseconds per item for each role. Unlike rates, these hardly move when
    other work shares the machine, so they compare runs on a busy box."""
    seconds = cpu.get("(wall)", 0.0)
    return {r: 1000 * cpu.get(r, 0.0) * seconds / max(count, 1) for r in roles if r in cpu}


def print_cost(label: str, cost: dict[str, float], known: bool = True) -> float:
    if not known:
        print(f"  CPU ms per {label}: n/a (--url: the service's processes are not known)")
        return math.nan
    total = sum(cost.values())
    parts = "  ".join(f"{k} {v:.2f}" for k, v in cost.items() if v >= 0.005)
    ceiling = (os.cpu_count() or 1) * 1000 / total if total else math.nan
    print(f"  CPU ms per {label}: {parts}  = {total:.2f} ms (all cores busy: {ceiling:.0f}/s)")
    return total


def print_cpu(cpu: dict[str, float], known: bool = True) -> None:
    order = sorted((k for k in cpu if not k.startswith("(")), key=lambda k: -cpu[k])
    shown = "  ".join(f"{k} {cpu[k]:.2f}" for k in order if cpu[k] >= 0.01)
    steal = cpu.get("(steal)", 0)
    machine = f"machine {cpu.get('(machine busy)', 0):.2f}" + (
        f", steal {steal:.2f}" if steal >= 0.01 else ""
    )
    print(f"  CPU, cores busy: {shown}  | {machine}")
    if known and cpu.get("other", 0) >= 0.1:
        print(
            f"  WARNING: processes outside this benchmark used {cpu['other']:.2f} cores;"
            " these figures understate the service"
        )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
