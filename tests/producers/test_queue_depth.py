"""Where the queue collector asks RabbitMQ's management API for the oldest message's age."""

from __future__ import annotations

import pytest

from configs import load_settings
from producers.queue_depth import management_api


def _api(broker: str, management: str | None = None) -> tuple[str, tuple[str, str]] | None:
    env = {"SECUREFORMS_ENV": "test", "SECUREFORMS_BROKER_URL": broker}
    if management is not None:
        env["SECUREFORMS_BROKER_MANAGEMENT_URL"] = management
    return management_api(load_settings(env))


@pytest.mark.parametrize(
    ("broker", "queues", "auth"),
    [
        (
            "amqp://guest:guest@127.0.0.1:5672//",
            "http://127.0.0.1:15672/api/queues/%2F",
            ("guest", "guest"),
        ),
        (
            "amqp://sf:p%40ss@rabbit:5672/prod",
            "http://rabbit:15672/api/queues/prod",
            ("sf", "p@ss"),
        ),
        ("amqp://rabbit", "http://rabbit:15672/api/queues/%2F", ("guest", "guest")),
        ("amqp://u:p@[::1]:5672/a%2Fb", "http://[::1]:15672/api/queues/a%2Fb", ("u", "p")),
    ],
)
def test_unset_it_is_the_brokers_host_on_15672_with_the_brokers_user(
    broker: str, queues: str, auth: tuple[str, str]
) -> None:
    assert _api(broker) == (queues, auth)


def test_a_named_api_keeps_its_scheme_port_path_and_user_and_the_brokers_vhost() -> None:
    named = _api("amqp://sf:secret@rabbit:5672/prod", "https://mon:watch@mq.example.com:443/rmq/")
    assert named == ("https://mq.example.com:443/rmq/api/queues/prod", ("mon", "watch"))


def test_a_named_api_that_is_not_http_is_not_asked() -> None:
    assert _api("amqp://rabbit//", "ftp://rabbit:15672") is None


def test_its_password_is_masked_in_the_settings_repr() -> None:
    settings = load_settings(
        {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_BROKER_MANAGEMENT_URL": "http://mon:hunter2hunter2@mq:15672",
        }
    )
    assert "hunter2hunter2" not in repr(settings)
    assert settings.broker_management_url == "http://mon:hunter2hunter2@mq:15672"
