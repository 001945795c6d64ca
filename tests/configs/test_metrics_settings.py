"""Who may read metrics: `metrics_listen` (an address of their own) and `metrics_token`
(a bearer token). Production's refusal of neither: test_production_refusals.py."""

from __future__ import annotations

import pytest

from configs import ConfigError, load_settings

TOKEN = "m3trics-" + "x" * 24


def test_development_and_test_leave_metrics_open_by_default() -> None:
    for env in ("development", "test"):
        settings = load_settings({"SECUREFORMS_ENV": env})
        assert settings.metrics_listen is None and settings.metrics_token is None
        assert settings.metrics_authorized(None)


@pytest.mark.parametrize(
    "listen", ["9100", "metrics.local:9100", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x"]
)
def test_a_bad_listen_address_is_named(listen: str) -> None:
    with pytest.raises(ConfigError, match="metrics_listen must be"):
        load_settings({"SECUREFORMS_METRICS_LISTEN": listen})


@pytest.mark.parametrize("token", ["short", "x" * 23, "x" * 30 + "\n"])
def test_a_guessable_or_unprintable_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="metrics_token must be at least 24"):
        load_settings({"SECUREFORMS_METRICS_TOKEN": token})


def test_the_token_is_checked_exactly_and_masked_in_repr() -> None:
    settings = load_settings({"SECUREFORMS_METRICS_TOKEN": TOKEN})
    assert settings.metrics_authorized(f"Bearer {TOKEN}")
    for wrong in (None, "", TOKEN, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer é"):
        assert not settings.metrics_authorized(wrong), wrong
    assert TOKEN not in repr(settings)
    assert "metrics_token='***'" in repr(settings)
