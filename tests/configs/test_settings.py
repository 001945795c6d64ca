from __future__ import annotations

import pytest

from configs import ConfigError, load_settings
from configs.celery import celery_config
from configs.logging import redact


def test_defaults_are_the_embedded_single_machine_setup(tmp_path) -> None:
    s = load_settings({"SECUREFORMS_DATA_DIR": str(tmp_path)})
    assert s.env == "development"
    assert s.app_database_url == f"sqlite:///{tmp_path}/app.sqlite3"
    assert s.vault_database_url == f"sqlite:///{tmp_path}/vault.sqlite3"
    assert s.off_record_redis_url == s.redis_url
    assert s.keyring_path == tmp_path / "keyring.json"
    assert s.allows_dev_defaults


def test_environment_variables_win_over_the_toml_file() -> None:
    s = load_settings(
        {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_REDIS_URL": "redis://example:6379/9",
            "SECUREFORMS_OFF_RECORD_REDIS_URL": "redis://other:6379/0",
            "SECUREFORMS_OTK_TTL_RETRIEVE_S": "7",
        }
    )
    assert s.env == "test"
    assert s.redis_url == "redis://example:6379/9"
    assert s.off_record_redis_url == "redis://other:6379/0"
    assert s.otk_ttl_retrieve_s == 7


def test_settings_are_frozen() -> None:
    s = load_settings({})
    with pytest.raises(AttributeError):
        s.env = "production"  # type: ignore[misc]


def test_repr_masks_credentials_in_urls() -> None:
    s = load_settings(
        {
            "SECUREFORMS_BROKER_URL": "amqp://queue-user:s3cret-pass@rabbit:5672//",
            "SECUREFORMS_APP_DATABASE_URL": "postgresql+psycopg://app:db-pass-9@pg/app",
        }
    )
    shown = repr(s)
    assert "s3cret-pass" not in shown and "db-pass-9" not in shown
    assert "amqp://***@rabbit:5672//" in shown


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SECUREFORMS_ENV", "staging", "SECUREFORMS_ENV"),
        ("SECUREFORMS_OTK_TTL_SUBMIT_S", "0", "otk_ttl_submit_s"),
        ("SECUREFORMS_MAX_BODY_BYTES", "lots", "max_body_bytes"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings({name: value})


def test_production_refuses_sqlite_and_a_missing_keyring() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"SECUREFORMS_ENV": "production"})
    message = str(info.value)
    assert "app_database_url is SQLite" in message
    assert "vault_database_url is SQLite" in message
    assert "no keyring given" in message


def test_production_starts_with_postgres_and_an_explicit_keyring(tmp_path) -> None:
    s = load_settings(
        {
            "SECUREFORMS_ENV": "production",
            "SECUREFORMS_APP_DATABASE_URL": "postgresql+psycopg://pg/app",
            "SECUREFORMS_VAULT_DATABASE_URL": "postgresql+psycopg://pg/vault",
            "SECUREFORMS_KEYRING": str(tmp_path / "k.json"),
            "SECUREFORMS_FORWARDED_ALLOW_IPS": "none",
            "SECUREFORMS_BROKER_URL": "amqp://secureforms:a-password@rabbit//",
            "SECUREFORMS_METRICS_TOKEN": "t" * 32,
        }
    )
    assert s.is_production and not s.allows_dev_defaults
    assert s.forwarded_allow_ips == ()


def test_production_refuses_to_start_without_forwarded_allow_ips(tmp_path) -> None:
    env = {
        "SECUREFORMS_ENV": "production",
        "SECUREFORMS_APP_DATABASE_URL": "postgresql+psycopg://pg/app",
        "SECUREFORMS_VAULT_DATABASE_URL": "postgresql+psycopg://pg/vault",
        "SECUREFORMS_KEYRING": str(tmp_path / "k.json"),
        "SECUREFORMS_BROKER_URL": "amqp://secureforms:a-password@rabbit:5672//",
        "SECUREFORMS_OFF_RECORD_REDIS_URL": "rediss://offrecord:6380/0",
        "SECUREFORMS_METRICS_LISTEN": "127.0.0.1:9100",
    }
    with pytest.raises(ConfigError, match="forwarded_allow_ips is not set"):
        load_settings(env)
    proxied = load_settings(env | {"SECUREFORMS_FORWARDED_ALLOW_IPS": "10.0.0.5, 10.1.0.0/16"})
    assert proxied.forwarded_allow_ips == ("10.0.0.5/32", "10.1.0.0/16")


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.local", "none, 10.0.0.1", ","])
def test_forwarded_allow_ips_must_name_addresses(value: str) -> None:
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        load_settings({"SECUREFORMS_FORWARDED_ALLOW_IPS": value})


def test_production_refuses_a_plain_http_public_url(tmp_path) -> None:
    with pytest.raises(ConfigError, match="public_url is not https://"):
        load_settings(
            {
                "SECUREFORMS_ENV": "production",
                "SECUREFORMS_APP_DATABASE_URL": "postgresql+psycopg://pg/app",
                "SECUREFORMS_VAULT_DATABASE_URL": "postgresql+psycopg://pg/vault",
                "SECUREFORMS_KEYRING": str(tmp_path / "k.json"),
                "SECUREFORMS_PUBLIC_URL": "http://forms.example",
            }
        )


def test_celery_config_is_safe_for_no_data_loss() -> None:
    conf = celery_config(load_settings({}))
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["task_serializer"] == "json" and conf["accept_content"] == ["json"]
    assert conf["task_ignore_result"] is True
    rabbit = celery_config(load_settings({"SECUREFORMS_BROKER_URL": "amqp://guest@h//"}))
    assert rabbit["broker_transport_options"] == {"confirm_publish": True}


@pytest.mark.parametrize(
    "line",
    [
        "card 4242 4242 4242 4242 was typed",
        "pan=4242-4242-4242-4242",
        "token sfs_abcdefghijklmnopqrstuvwxyz",
        "url redis://user:pw@host:6379/0",
    ],
)
def test_the_log_filter_redacts_numbers_tokens_and_credentials(line: str) -> None:
    cleaned = redact(line)
    for secret in ("4242 4242 4242 4242", "4242-4242-4242-4242", "abcdefghijklmnop", ":pw@"):
        assert secret not in cleaned


def test_the_log_filter_keeps_ordinary_lines() -> None:
    # Tracebacks: tests/configs/test_logging.py, through the processor that redacts them.
    assert redact("submission 3f2a stored in 12.5ms") == "submission 3f2a stored in 12.5ms"
