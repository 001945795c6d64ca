"""The monitoring files agree with the code: every metric the code exports has a row in
docs/operations.md and no row names one it does not; the Grafana dashboard queries only
metrics that exist; docker/prometheus.yml scrapes the ports compose gives the api's
metrics listener and the worker; compose's production settings start (metrics off
the public port); and compose scales as docker/README.md says (api processes, worker
containers)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import api.metrics
import vault.otk
import workers.metrics
from cli.main import build_parser, cmd_api
from configs import load_settings
from producers import QueueCollector

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
_NAME = re.compile(r"\bsecureforms_[a-z_]+\b")
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def _families(module: ModuleType) -> Iterator[tuple[str, str]]:
    for value in vars(module).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                yield family.name, family.type


def exported() -> dict[str, str]:
    """Every metric name as PromQL sees it (counters with `_total`), with its type."""
    found = {}
    for module in (api.metrics, workers.metrics, vault.otk):
        for name, kind in _families(module):
            found[name + "_total" if kind == "counter" else name] = kind
    for family in QueueCollector(load_settings({})).describe():
        found[family.name] = family.type
    return found


def documented() -> dict[str, str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(secureforms_[a-z_]+)` \| (\w+) \|", section, re.M)
    return dict(rows)


def test_every_exported_metric_has_a_row_and_every_row_a_metric() -> None:
    assert documented() == exported()


def test_the_dashboard_queries_only_metrics_that_exist() -> None:
    dashboard = json.loads((DOCKER / "grafana" / "secureforms.json").read_text())
    names = exported()
    used = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in _NAME.findall(target["expr"]):
                base = next(
                    (name.removesuffix(s) for s in _HISTOGRAM_SERIES if name.endswith(s)), name
                )
                assert name in names or names.get(base) == "histogram", (panel["title"], name)
                used.add(base if base in names else name)
    # A dashboard for these metrics: all but the collector's own health are on it.
    assert set(names) - used == {"secureforms_queue_stats_up"}
    assert dashboard["uid"] == "secureforms" and dashboard["panels"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def test_prometheus_scrapes_the_ports_compose_gives(compose: dict[str, Any]) -> None:
    prometheus = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    listen = compose["services"]["api"]["environment"]["SECUREFORMS_METRICS_LISTEN"]
    assert jobs["api"]["static_configs"][0]["targets"] == [f"api:{listen.rsplit(':', 1)[1]}"]
    command = compose["services"]["worker"]["command"]
    port = command[command.index("--metrics-port") + 1]
    assert jobs["worker"]["dns_sd_configs"][0] == {
        "names": ["worker"],
        "type": "A",
        "port": int(port),
    }


def test_the_monitoring_profile_has_its_three_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    monitoring = {name for name, s in services.items() if "monitoring" in s.get("profiles", [])}
    assert monitoring == {"prometheus", "grafana", "flower"}
    for name in monitoring:  # published to the host's loopback only
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DOCKER / source).exists(), (name, source)


def interpolate(value: object, given: dict[str, str] | None = None) -> str:
    """As compose reads `value`: ${VAR:-default} is VAR from `given`, else the default;
    ${VAR:?message} (required) a made-up value."""
    text = re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: (given or {}).get(m[1], m[2]), str(value))
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "pw123", text)


def test_composes_production_settings_start(compose: dict[str, Any], tmp_path: Path) -> None:
    """What the app containers get, with made-up passwords: production's refusals pass,
    and metrics have a listen address of their own."""
    env = {key: interpolate(value) for key, value in compose["x-app"]["environment"].items()}
    env["SECUREFORMS_KEYRING"] = str(tmp_path / "absent-keyring.json")  # the secret's place
    settings = load_settings(env)
    assert settings.is_production
    assert settings.metrics_listen == "0.0.0.0:9100"


def test_compose_scales_api_processes_and_worker_containers(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """API_WORKERS reaches `secureforms api --workers` through docker/entrypoint.sh (run
    here, with a stand-in `secureforms` that prints its arguments, which the real
    parser then reads); workers have no fixed name or host port to collide when scaled."""
    services = compose["services"]
    assert not [name for name, s in services.items() if "container_name" in s]
    assert "ports" not in services["worker"] and "ports" not in services["webhooks"]
    replicas = services["worker"]["deploy"]["replicas"]
    assert (interpolate(replicas), interpolate(replicas, {"WORKER_REPLICAS": "3"})) == ("1", "3")
    stand_in = tmp_path / "secureforms"
    stand_in.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stand_in.chmod(0o755)
    for given, processes in (({}, 1), ({"API_WORKERS": "4"}, 4)):
        command = [interpolate(arg, given) for arg in services["api"]["command"]]
        ran = subprocess.run(
            ["sh", str(DOCKER / "entrypoint.sh"), *command],
            env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        args = build_parser().parse_args(ran.stdout.splitlines())
        assert (args.func, args.workers, args.host) == (cmd_api, processes, "0.0.0.0")
