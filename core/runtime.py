"""Everything a process needs to talk to its stores, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from sqlalchemy.engine import Engine

from configs import Settings
from vault import (
    Keyring,
    OffRecordStore,
    OneTimeKeys,
    VaultStore,
    load_keyring,
    make_engine,
    migrate_vault_db,
    upgrade,
)


@dataclass
class Runtime:
    settings: Settings
    app_engine: Engine
    redis: Redis
    keyring: Keyring
    vault: VaultStore
    off_record: OffRecordStore
    otks: OneTimeKeys

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        keyring = load_keyring(settings.keyring_path, allow_generate=settings.allows_dev_defaults)
        redis = Redis.from_url(settings.redis_url, health_check_interval=30)
        off_record_redis = (
            redis
            if settings.off_record_redis_url == settings.redis_url
            else Redis.from_url(settings.off_record_redis_url, health_check_interval=30)
        )
        return cls(
            settings=settings,
            app_engine=make_engine(settings.app_database_url),
            redis=redis,
            keyring=keyring,
            vault=VaultStore(make_engine(settings.vault_database_url), keyring),
            off_record=OffRecordStore(off_record_redis, keyring),
            otks=OneTimeKeys(
                redis,
                {
                    "open": settings.otk_ttl_open_s,
                    "submit": settings.otk_ttl_submit_s,
                    "retrieve": settings.otk_ttl_retrieve_s,
                },
            ),
        )

    def close(self) -> None:
        self.app_engine.dispose()
        self.vault.engine.dispose()
        self.redis.close()


def migrate(settings: Settings) -> None:
    """Create or upgrade both databases to the newest schema."""
    upgrade(settings.app_database_url, "core:migrations", "alembic_version_app")
    migrate_vault_db(settings.vault_database_url)
