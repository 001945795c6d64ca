"""Everything a process needs to talk to its stores, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from sqlalchemy.engine import Engine

from configs import Settings
from configs.database import make_engine, upgrade
from core import passwords
from vault import (
    DataKeys,
    KeyringFile,
    OffRecordStore,
    OneTimeKeys,
    VaultStore,
    migrate_keystore_db,
    migrate_vault_db,
)


@dataclass
class Runtime:
    settings: Settings
    app_engine: Engine
    redis: Redis
    # The same client as `redis` unless the settings name a Redis of its own for it.
    off_record_redis: Redis
    keyring: KeyringFile
    vault: VaultStore
    off_record: OffRecordStore
    otks: OneTimeKeys

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        passwords.configure(settings.password_hashing)
        keyring = KeyringFile(settings.keyring_path, allow_generate=settings.allows_dev_defaults)
        redis = Redis.from_url(settings.redis_url, health_check_interval=30)
        off_record_redis = (
            redis
            if settings.off_record_redis_url == settings.redis_url
            else Redis.from_url(settings.off_record_redis_url, health_check_interval=30)
        )
        app_engine = make_engine(settings.app_database_url)
        keystore_engine = (
            app_engine
            if settings.keystore_database_url == settings.app_database_url
            else make_engine(settings.keystore_database_url)
        )
        return cls(
            settings=settings,
            app_engine=app_engine,
            redis=redis,
            off_record_redis=off_record_redis,
            keyring=keyring,
            vault=VaultStore(
                make_engine(settings.vault_database_url),
                keyring,
                DataKeys(keystore_engine, keyring),
            ),
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
        self.vault.data_keys.engine.dispose()
        self.redis.close()
        if self.off_record_redis is not self.redis:
            self.off_record_redis.close()


def migrate(settings: Settings) -> None:
    """Create or upgrade both databases to the newest schema."""
    upgrade(settings.app_database_url, "core:migrations", "alembic_version_app")
    migrate_vault_db(settings.vault_database_url)
    migrate_keystore_db(settings.keystore_database_url)
