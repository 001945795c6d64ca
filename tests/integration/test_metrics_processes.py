"""Metrics across processes: `secureforms api --workers 2` in prometheus-client's
multiprocess mode (the directory emptied at start, every process's counts in one
scrape), served on the metrics listener only; and the queue collector on RabbitMQ."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.metrics_files import HEALTHZ, healthz_by_process
from support.stack import (
    CLI,
    RABBIT_URL,
    ROOT,
    Stack,
    create_rabbit_vhost,
    delete_rabbit_vhost,
    free_port,
)

from configs import load_settings
from producers import Publisher, QueueCollector
from vault import Keyring

TOKEN = "processes-token-" + "p" * 24


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "secureforms_http_requests_total" and s.labels == HEALTHZ:
                return float(s.value)
    return 0.0


def test_two_api_processes_add_up_on_the_metrics_listener(tmp_path: Path) -> None:
    directory = tmp_path / "multiproc"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"left by a previous run" * 8)  # unreadable
    port = free_port()
    with Stack.running(
        "sqlite",
        "redis",
        tmp_path / "stack",
        api=False,
        worker=False,
        SECUREFORMS_METRICS_LISTEN=f"127.0.0.1:{port}",
        SECUREFORMS_METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    ) as stack:
        stack.start_api(["--workers", "2"])
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert not (directory / "counter_1.db").exists()  # emptied at start
        before = healthz_count(httpx.get(metrics_url, headers=auth, timeout=10).text)
        sent = 0
        # Fresh connections until both processes have answered some (the kernel picks).
        while len(healthz_by_process(directory)) < 2 and sent < 2000:
            assert httpx.get(f"{stack.base_url}/healthz", timeout=10).status_code == 200
            sent += 1
        by_process = healthz_by_process(directory)
        assert len(by_process) == 2, f"one api process answered all {sent}"
        after = healthz_count(httpx.get(metrics_url, headers=auth, timeout=10).text)
        assert after - before == sent
        assert after == sum(by_process.values())  # one scrape adds both processes up
        assert httpx.get(metrics_url, timeout=10).status_code == 401
        with stack.client() as c:
            assert c.get("/metrics", headers=auth).status_code == 404


def _sample(collector: QueueCollector, name: str) -> float | None:
    for family in collector.collect():
        for s in family.samples:
            if s.name == name:
                return float(s.value)
    return None


def test_the_rabbitmq_queue_depth_and_age_are_read_without_consuming() -> None:
    vhost = create_rabbit_vhost(f"sf-test-depth-{uuid.uuid4().hex[:8]}")
    try:
        env = {"SECUREFORMS_ENV": "test", "SECUREFORMS_BROKER_URL": RABBIT_URL + vhost}
        collector = QueueCollector(load_settings(env))
        assert _sample(collector, "secureforms_queue_depth") == 0  # not declared yet
        assert _sample(collector, "secureforms_queue_oldest_age_seconds") == 0
        publisher = Publisher(load_settings(env), Keyring.generate())
        published = time.time()
        try:
            for n in range(3):
                publisher.publish_noop(f"depth-{n}")
        finally:
            publisher.close()
        # The management API refreshes its figures every 5 s: the age shows once it has.
        deadline, age = time.monotonic() + 30, 0.0
        while age == 0.0 and time.monotonic() < deadline:
            time.sleep(0.5)
            age = _sample(collector, "secureforms_queue_oldest_age_seconds") or 0.0
        # The head's AMQP timestamp is in whole seconds: at most 1 s before the publish.
        assert 0 < age <= time.time() - published + 1.0
        for _ in range(3):  # looking takes nothing
            assert _sample(collector, "secureforms_queue_depth") == 3
        assert _sample(collector, "secureforms_queue_stats_up") == 1
        # A management API that does not answer: the depth still, no age rather than 0.
        closed = free_port()
        elsewhere = QueueCollector(
            load_settings(env | {"SECUREFORMS_BROKER_MANAGEMENT_URL": f"http://127.0.0.1:{closed}"})
        )
        assert _sample(elsewhere, "secureforms_queue_depth") == 3
        assert _sample(elsewhere, "secureforms_queue_oldest_age_seconds") is None
    finally:
        delete_rabbit_vhost(vhost)


def test_a_metrics_port_in_use_stops_the_worker_with_a_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREFORMS_")}
    env |= {"SECUREFORMS_ENV": "test", "SECUREFORMS_DATA_DIR": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "worker", "--metrics-port", str(port)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
