"""The `secureforms` commands, on SQLite files of their own and Redis databases held alone
(support.redis_dbs). Most are called in this process (support.cli_run: a fresh interpreter
per command cost most of this folder's time); test_commands.py also runs the installed
`secureforms` entrypoint as operators and the docker images do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import redis_dbs
from support.stack import Stack


@pytest.fixture(scope="module")
def unmigrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack's settings and CLI, with nothing run yet: no migration, no site, no process."""
    data_dir: Path = tmp_path_factory.mktemp("cli")
    stack = Stack(db="sqlite", broker="redis", data_dir=data_dir)
    try:
        stack.redis_db, stack.broker_db = redis_dbs.acquire(), redis_dbs.acquire()
        stack.env = {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(data_dir),
            "SECUREFORMS_APP_DATABASE_URL": f"sqlite:///{data_dir}/app.sqlite3",
            "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{data_dir}/vault.sqlite3",
            "SECUREFORMS_REDIS_URL": redis_dbs.url(stack.redis_db),
            "SECUREFORMS_BROKER_URL": redis_dbs.url(stack.broker_db),
        }
        for client in stack.redis_clients():
            client.flushdb()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def cli(unmigrated: Stack) -> Stack:
    """The same, migrated, with a site made by `site create`."""
    unmigrated.cli("migrate")
    unmigrated.site_id = unmigrated.create_site(*unmigrated.admin)["site_id"]
    return unmigrated
