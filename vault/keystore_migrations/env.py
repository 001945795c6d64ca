from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from vault.schema import keystore_metadata as metadata

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section) or {},
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=config.attributes.get("version_table", "alembic_version_keystore"),
    )
    with context.begin_transaction():
        context.run_migrations()
