"""A real scrape: Debian's Prometheus against a running stack (api on a metrics listener
of its own, worker on `--metrics-port`, both behind the metrics bearer token), read back
through Prometheus's HTTP API. Submissions wait in the queue while no worker runs (the
queue's depth and age), then a worker stores them (its counters and the submit-to-stored
histogram)."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.flow import Desk, card_values
from support.prometheus import running_prometheus
from support.stack import Stack, free_port

TOKEN = "scrape-test-token-" + "s" * 24
SUBMISSIONS = 4
QUEUE = 'queue="secureforms"'


def test_prometheus_reads_queue_depth_the_submit_histogram_and_worker_counters(
    tmp_path: Path,
) -> None:
    api_metrics, worker_metrics = free_port(), free_port()
    with Stack.running(
        "sqlite",
        "redis",
        tmp_path / "stack",
        worker=False,
        SECUREFORMS_METRICS_LISTEN=f"127.0.0.1:{api_metrics}",
        SECUREFORMS_METRICS_TOKEN=TOKEN,
    ) as stack:
        auth = {"authorization": {"type": "Bearer", "credentials": TOKEN}}
        jobs = {
            "api": {"targets": [f"127.0.0.1:{api_metrics}"], **auth},
            "worker": {"targets": [f"127.0.0.1:{worker_metrics}"], **auth},
        }
        with running_prometheus(tmp_path / "prometheus", jobs) as prom:
            desk = Desk.make(stack)
            sent = [desk.send() for _ in range(SUBMISSIONS)]
            for one in sent:
                assert desk.submit(desk.open(one), card_values()).status_code == 202

            # No worker yet: every submission waits in the queue, and looking leaves it there.
            depth = f"secureforms_queue_depth{{job='api',{QUEUE}}}"
            assert prom.wait_for(depth, lambda v: v == SUBMISSIONS) == SUBMISSIONS
            age = f"secureforms_queue_oldest_age_seconds{{job='api',{QUEUE}}}"
            assert prom.wait_for(age, lambda v: v > 0) > 0
            accepted = 'sum(secureforms_submits_total{job="api",outcome="accepted"})'
            assert prom.wait_for(accepted, lambda v: v >= SUBMISSIONS) == SUBMISSIONS
            assert prom.value('secureforms_queue_stats_up{job="api"}') == 1
            assert prom.targets_up()["api"] == 1

            stack.start_worker(extra=["--metrics-port", str(worker_metrics)])
            stored = 'secureforms_worker_submissions_stored_total{job="worker"}'
            assert prom.wait_for(stored, lambda v: v >= SUBMISSIONS) == SUBMISSIONS
            count = 'secureforms_worker_submit_to_stored_seconds_count{job="worker"}'
            assert prom.wait_for(count, lambda v: v >= SUBMISSIONS) == SUBMISSIONS
            # They waited in the queue for the worker to start: each took some time.
            assert prom.value('secureforms_worker_submit_to_stored_seconds_sum{job="worker"}')
            inf = 'secureforms_worker_submit_to_stored_seconds_bucket{job="worker",le="+Inf"}'
            assert prom.value(inf) == SUBMISSIONS
            assert prom.wait_for(depth, lambda v: v == 0) == 0
            assert prom.value('secureforms_worker_submissions_redelivered_total{job="worker"}') == 0
            assert prom.value('secureforms_worker_submissions_retried_total{job="worker"}') == 0
            assert prom.targets_up() == {"api": 1, "worker": 1}
        for one in sent:
            desk.wait_submitted(one.request_id)

        # Neither endpoint answers without the token, and the app port has no metrics.
        for port in (api_metrics, worker_metrics):
            refused = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert refused.status_code == 401, port
            assert "secureforms_" not in refused.text
        with stack.client() as c:
            assert (
                c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
            )
