"""A real Prometheus server (Debian's `prometheus` package, installed by
scripts/bootstrap.sh's ensure_prometheus) on a free loopback port, scraping the given
targets every second, and read through its HTTP API (`/api/v1/query`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from support.stack import free_port

BINARY = "prometheus"


@dataclass
class Prometheus:
    url: str
    log_path: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector `promql` evaluates to now: [{"metric": {...}, "value": v}]."""
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        assert body["data"]["resultType"] == "vector", body
        return [
            {"metric": item["metric"], "value": float(item["value"][1])}
            for item in body["data"]["result"]
        ]

    def value(self, promql: str) -> float | None:
        """The one value `promql` evaluates to, None while it has none."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return result[0]["value"] if result else None

    def wait_for(self, promql: str, accept: Callable[[float], bool], timeout: float = 60) -> float:
        """Polls until `promql` has a value that `accept` takes; fails naming the last one."""
        deadline = time.monotonic() + timeout
        last: float | None = None
        while time.monotonic() < deadline:
            last = self.value(promql)
            if last is not None and accept(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"{promql} never took an accepted value; last {last!r}")

    def targets_up(self) -> dict[str, float]:
        return {r["metric"]["job"]: r["value"] for r in self.query("up")}


@contextmanager
def running_prometheus(work_dir: Path, jobs: dict[str, dict[str, Any]]) -> Iterator[Prometheus]:
    """Prometheus scraping `jobs` (job name -> extra scrape_config: `targets` is required),
    every second, with its data in `work_dir`; stopped at the end."""
    binary = shutil.which(BINARY)
    assert binary, "Debian's prometheus is missing: run scripts/test.sh (ensure_prometheus)"
    work_dir.mkdir(parents=True, exist_ok=True)
    scrape_configs = []
    for name, job in jobs.items():
        config = {"job_name": name, "static_configs": [{"targets": job["targets"]}]}
        config |= {k: v for k, v in job.items() if k != "targets"}
        scrape_configs.append(config)
    config_path = work_dir / "prometheus.yml"
    # JSON is YAML: no YAML writer needed.
    config_path.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": scrape_configs,
            }
        )
    )
    port = free_port()
    log_path = work_dir / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={work_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", log_path)
    try:
        _await_ready(server, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _await_ready(server: Prometheus, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{server.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("prometheus was not ready within 60 s")
