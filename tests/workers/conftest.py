"""The worker's tasks called as plain functions (`task.run(...)`) in this process, against
the stores the in-process api uses: SQLite files migrated with the real migrations and
Redis databases of their own. Sealed events come from the api's real publish, taken off the
broker's queue, so each task sees exactly what a worker would be handed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from support.flow import Desk
from support.inprocess import Api, inprocess_api

from core.runtime import Runtime


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with inprocess_api(tmp_path_factory.mktemp("workers")) as made:
        yield made


@pytest.fixture(scope="session")
def tasks(api: Api) -> Iterator[ModuleType]:
    """workers.tasks, its settings and per-process Runtime pointed at these stores."""
    saved = {name: os.environ.get(name) for name in api.env}
    os.environ.update(api.env)  # workers.app reads its settings when first imported
    try:
        from workers import tasks as module
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    rt = Runtime.from_settings(api.settings)
    module.settings = api.settings
    module.RuntimeTask._runtime, module.RuntimeTask._pid = rt, os.getpid()
    try:
        yield module
    finally:
        module.RuntimeTask._runtime = None
        rt.close()


@pytest.fixture(scope="session")
def rt(tasks: ModuleType) -> Runtime:
    runtime: Runtime = tasks.RuntimeTask._runtime
    return runtime


@pytest.fixture(scope="session")
def vault_db(api: Api) -> Iterator[Engine]:
    engine = create_engine(api.settings.vault_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def desk(api: Api) -> Desk:
    return Desk.make(api)  # type: ignore[arg-type]  # Api speaks like a Stack here


@pytest.fixture(autouse=True)
def no_slots_claimed(api: Api) -> None:
    """Periodic tasks claim one slot per interval: each test starts with none taken."""
    with redis.Redis.from_url(api.settings.redis_url) as r:
        for key in r.scan_iter("sf:slot:*"):
            r.delete(key)
