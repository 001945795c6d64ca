"""One frozen settings object per process.

Values come from `configs/<env>.toml`, then `SECUREFORMS_*` environment variables win.
Anything that can hold a credential is masked in `repr`, because settings objects end up
in tracebacks and debug logs.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ENVIRONMENTS = ("development", "test", "production")
_HERE = Path(__file__).resolve().parent
log = logging.getLogger("configs.settings")
_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z0-9+.-]+://)(?P<userinfo>[^@/]*)@", re.I)


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


def mask_url(url: str) -> str:
    """Hide the password (and user) of a URL so it can be printed."""
    return _CREDENTIALS_IN_URL.sub(lambda m: f"{m['scheme']}***@", url)


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    app_database_url: str
    vault_database_url: str
    keystore_database_url: str
    redis_url: str
    off_record_redis_url: str
    broker_url: str
    keyring_path: Path
    keyring_explicit: bool
    public_url: str
    otk_ttl_open_s: int
    otk_ttl_submit_s: int
    otk_ttl_retrieve_s: int
    max_body_bytes: int
    log_level: str
    worker_concurrency: int
    worker_prefetch: int
    publish_timeout_s: float
    broker_visibility_timeout_s: int
    purge_interval_s: int
    rewrap_interval_s: int
    sweep_interval_s: int
    login_rate_per_minute: int
    otk_rate_per_minute: int
    # The reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks);
    # () for none ("none"), None when not given (which production refuses).
    forwarded_allow_ips: tuple[str, ...] | None = None
    # "standard" (Argon2id, RFC 9106's low-memory profile) everywhere but in the test
    # environment, which may choose "fast-for-tests": see _password_hashing.
    password_hashing: str = "standard"  # noqa: S105 (a cost profile, not a password)
    # Submissions a worker stores in one transaction, and how long it waits for more to
    # arrive once it has one (workers.batches): 1 stores each on its own.
    worker_batch_size: int = 50
    worker_batch_wait_ms: int = 5
    # Submits that arrive while the api waits for the broker's confirm go out in one
    # message, up to this many (producers.group_commit): 1 sends each on its own.
    submit_group_max: int = 50
    # Webhook deliveries (core.outbox): how often beat drains the outbox, the waits
    # between a failed attempt and the next (the last repeats), and when to give up.
    webhook_poll_interval_s: int = 2
    webhook_retry_schedule_s: tuple[int, ...] = (10, 30, 60, 300, 900, 1800, 3600)
    webhook_retry_for_s: int = 24 * 3600
    # Who may read the api's /metrics: served on a listen address of its own
    # ("host:port"; the app port then answers 404 there), and/or only with this bearer
    # token. Production refuses to start with neither (see _metrics_access).
    metrics_listen: str | None = None
    metrics_token: str | None = None
    # RabbitMQ's management API (the queue's age); unset: broker's host, port 15672, user.
    broker_management_url: str | None = None
    # "json" (one JSON object a line, for collectors) or "console" (readable).
    log_format: str = "json"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def allows_dev_defaults(self) -> bool:
        """Development and test may generate a keyring and use SQLite; production may not."""
        return not self.is_production

    def metrics_authorized(self, authorization: str | None) -> bool:
        """Whether a request's `Authorization` header may read metrics (constant time)."""
        if self.metrics_token is None:
            return True
        given = (authorization or "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, f"Bearer {self.metrics_token}".encode())

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_url") and isinstance(value, str):
                value = mask_url(value)
            elif f.name.endswith("_token") and value is not None:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"


_INT_SETTINGS = {
    "otk_ttl_open_s": (5, 7 * 24 * 3600),
    "otk_ttl_submit_s": (5, 3600),
    "otk_ttl_retrieve_s": (1, 600),
    "max_body_bytes": (1024, 10 * 1024 * 1024),
    "worker_concurrency": (1, 256),
    "worker_prefetch": (1, 1000),
    "worker_batch_size": (1, 500),
    "worker_batch_wait_ms": (1, 1000),
    "submit_group_max": (1, 500),
    "login_rate_per_minute": (1, 100000),
    "otk_rate_per_minute": (1, 1000000),
    "broker_visibility_timeout_s": (2, 24 * 3600),
    "purge_interval_s": (1, 7 * 24 * 3600),
    "rewrap_interval_s": (1, 7 * 24 * 3600),
    "sweep_interval_s": (1, 24 * 3600),
    "webhook_poll_interval_s": (1, 3600),
    "webhook_retry_for_s": (1, 7 * 24 * 3600),
}


def _read_toml(env: str) -> dict[str, Any]:
    path = _HERE / f"{env}.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _env_value(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(f"SECUREFORMS_{name.upper()}")
    return value if value not in (None, "") else None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings for this process; raises ConfigError naming the bad setting."""
    environ = os.environ if environ is None else environ
    env = _env_value(environ, "env") or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"SECUREFORMS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    raw: dict[str, Any] = _read_toml(env)
    extra = ("data_dir", "keyring", "off_record_redis_url", "keystore_database_url")
    for key in [*raw, *extra, "forwarded_allow_ips", "password_hashing", *_OPTIONAL_KEYS]:
        override = _env_value(environ, key)
        if override is not None:
            raw[key] = override

    data_dir = Path(str(raw.get("data_dir", "var"))).expanduser().resolve()

    def url(key: str) -> str:
        value = str(raw.get(key, ""))
        return value.replace("{data_dir}", str(data_dir))

    ints: dict[str, int] = {}
    for key, (low, high) in _INT_SETTINGS.items():
        try:
            number = int(raw[key])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{key} must be a whole number") from None
        if not low <= number <= high:
            raise ConfigError(f"{key} must be between {low} and {high}, not {number}")
        ints[key] = number
    try:
        publish_timeout_s = float(raw["publish_timeout_s"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError("publish_timeout_s must be a number of seconds") from None

    keyring_explicit = _env_value(environ, "keyring") is not None
    redis_url = url("redis_url")
    settings = Settings(
        env=env,
        data_dir=data_dir,
        app_database_url=url("app_database_url"),
        vault_database_url=url("vault_database_url"),
        # Data keys live apart from the vault DB so that shredding reaches its backups.
        keystore_database_url=(
            url("keystore_database_url")
            if raw.get("keystore_database_url")
            else url("app_database_url")
        ),
        redis_url=redis_url,
        off_record_redis_url=url("off_record_redis_url")
        if raw.get("off_record_redis_url")
        else redis_url,
        broker_url=url("broker_url"),
        keyring_path=Path(url("keyring")).expanduser(),
        keyring_explicit=keyring_explicit,
        public_url=str(raw["public_url"]).rstrip("/"),
        log_level=str(raw.get("log_level", "INFO")).upper(),
        log_format=_log_format(raw.get("log_format")),
        publish_timeout_s=publish_timeout_s,
        forwarded_allow_ips=_proxies(raw.get("forwarded_allow_ips")),
        password_hashing=_password_hashing(env, raw.get("password_hashing")),
        webhook_retry_schedule_s=_schedule(raw.get("webhook_retry_schedule_s")),
        metrics_listen=_metrics_listen(raw.get("metrics_listen")),
        metrics_token=_metrics_token(raw.get("metrics_token")),
        broker_management_url=str(raw.get("broker_management_url") or "") or None,
        **ints,
    )
    _refuse_unsafe(settings)
    return settings


def _log_format(value: object) -> str:
    chosen = "json" if value is None else str(value).lower()
    if chosen not in ("json", "console"):
        raise ConfigError('log_format must be "json" or "console"')
    return chosen


def _password_hashing(env: str, value: object) -> str:
    """Argon2's cost: "standard", or "fast-for-tests" in the test environment only.

    The test suite signs in, creates users and starts processes (each makes a dummy hash)
    thousands of times; at 0.16 s of CPU a hash that was minutes of a 2-core machine's run,
    spent proving nothing the production profile's own tests don't already prove.
    """
    chosen = "standard" if value is None else str(value)
    if chosen not in ("standard", "fast-for-tests"):
        raise ConfigError('password_hashing must be "standard" or "fast-for-tests"')
    if chosen == "fast-for-tests" and env != "test":
        raise ConfigError('password_hashing = "fast-for-tests" is only for the test environment')
    return chosen


def _schedule(value: object) -> tuple[int, ...]:
    """webhook_retry_schedule_s: seconds between attempts (a list, or "10,30,60")."""
    items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value or "").strip())
    try:
        waits = tuple(int(str(i)) for i in items if str(i).strip())
    except ValueError:
        waits = ()
    if not waits or not all(1 <= w <= 24 * 3600 for w in waits) or len(waits) > 50:
        raise ConfigError(
            "webhook_retry_schedule_s must be 1 to 50 waits of 1 s to a day, such as 10,30,60"
        )
    return waits


_OPTIONAL_KEYS = ("metrics_listen", "metrics_token", "broker_management_url")
_METRICS_TOKEN_MIN = 24


def _metrics_listen(value: object) -> str | None:
    """metrics_listen: "host:port" with a numeric host (or localhost), or absent."""
    listen = str(value).strip() if value else None
    if listen is None:
        return None
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        if host != "localhost":
            ipaddress.ip_address(host)
        valid = 1 <= int(port) <= 65535
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(f'metrics_listen must be "host:port" with an IP address, not {listen!r}')
    return listen


def _metrics_token(value: object) -> str | None:
    """metrics_token: long enough not to be guessed, or absent."""
    token = str(value) if value else None
    if token is not None and (len(token) < _METRICS_TOKEN_MIN or not token.isprintable()):
        raise ConfigError(
            f"metrics_token must be at least {_METRICS_TOKEN_MIN} printable characters"
        )
    return token


def _proxies(value: object) -> tuple[str, ...] | None:
    """forwarded_allow_ips: "none", or addresses / CIDR networks (a list, or a string
    separated by commas or spaces), each checked and written in its normal form."""
    if value is None:
        return None
    items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value).strip())
    names = [str(i).strip() for i in items if str(i).strip()]
    if [n.lower() for n in names] == ["none"]:
        return ()
    if not names:
        raise ConfigError('forwarded_allow_ips is empty: name the proxies, or "none"')
    networks = []
    for name in names:
        try:
            networks.append(str(ipaddress.ip_network(name, strict=False)))
        except ValueError:
            raise ConfigError(
                f"forwarded_allow_ips: {name!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _refuse_unsafe(settings: Settings) -> None:
    if not settings.is_production:
        return
    problems = []
    for name in ("app_database_url", "vault_database_url", "keystore_database_url"):
        if (
            name == "keystore_database_url"
            and settings.keystore_database_url == settings.app_database_url
        ):
            continue  # the keystore shares the app DB: already checked
        if getattr(settings, name).startswith("sqlite"):
            problems.append(f"{name} is SQLite (set SECUREFORMS_{name.upper()} to PostgreSQL)")
    if not settings.keyring_explicit:
        problems.append(
            "no keyring given (set SECUREFORMS_KEYRING to a key file made by "
            "`secureforms keys init`)"
        )
    if not settings.public_url.startswith("https://"):
        # Visitor links, HSTS and the Secure/__Host- cookies all assume HTTPS.
        problems.append("public_url is not https:// (set SECUREFORMS_PUBLIC_URL)")
    if settings.forwarded_allow_ips is None:
        # Behind a proxy every client would share its address (one rate-limit bucket, one
        # audit origin); without one, a trusted header would let clients pick theirs.
        problems.append(
            "forwarded_allow_ips is not set (set SECUREFORMS_FORWARDED_ALLOW_IPS to the "
            'addresses of your reverse proxies, or to "none" if clients connect directly)'
        )
    if settings.metrics_listen is None and settings.metrics_token is None:
        # The app port faces the internet: request counts, queue depth and timings are
        # for the operator only.
        problems.append(
            "metrics would be public on the app port (set SECUREFORMS_METRICS_LISTEN to "
            "an address of their own, e.g. 127.0.0.1:9100, and/or SECUREFORMS_METRICS_TOKEN)"
        )
    problems += _exposed_secrets(settings)
    if problems:
        raise ConfigError("production refuses development defaults: " + "; ".join(problems))


def _exposed_secrets(settings: Settings) -> list[str]:
    """Production's refusals for secrets left open: a keyring file others can read, the
    broker's well-known guest account, an off-the-record store anyone on the network can
    read. Each problem names the setting and the way out."""
    problems = []
    try:
        mode = stat.S_IMODE(os.stat(settings.keyring_path).st_mode)
    except OSError:
        mode = 0  # missing or unreadable: loading the keyring says so
    if mode & 0o077:
        problems.append(
            f"the keyring file {settings.keyring_path} is open to group or others (mode "
            f"{mode:04o}; run `chmod 600` on it, owned by the user the services run as)"
        )
    broker = urlsplit(settings.broker_url)
    if broker.scheme in ("amqp", "amqps", "pyamqp"):
        user, password = unquote(broker.username or ""), unquote(broker.password or "")
        # An AMQP URL without credentials logs in as guest/guest.
        if not password or (user, password) == ("guest", "guest"):
            problems.append(
                "broker_url uses RabbitMQ's guest account or no credentials (set "
                "SECUREFORMS_BROKER_URL with a user and password of its own)"
            )
    # The app's Redis holds sessions, lock-outs and one-time keys for their life; the
    # off-the-record store holds sealed answers: neither may be open to the network.
    for key, url in (
        ("redis_url", settings.redis_url),
        ("off_record_redis_url", settings.off_record_redis_url),
    ):
        problems += _open_redis(key, url)
    return problems


def _open_redis(key: str, url: str) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme != "redis" or parts.password:
        return []
    if _is_loopback(parts.hostname):
        log.warning(
            "%s has no password; allowed only because it is on this host (%s): give it "
            "one, or use rediss://",
            key,
            parts.hostname,
        )
        return []
    return [
        f"{key} is redis:// without a password (use rediss:// or redis://:PASSWORD@host; "
        f"set SECUREFORMS_{key.upper()})"
    ]


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False
