from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.inprocess import ADMIN_PASSWORD, Api, bearer, inprocess_api


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with inprocess_api(tmp_path_factory.mktemp("api-inprocess")) as made:
        yield made


@pytest.fixture(scope="session")
def admin(api: Api) -> str:
    """The site admin's bearer token."""
    return api.login("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def agent(api: Api, admin: str) -> str:
    """An agent's bearer token."""
    return api.new_user(bearer(admin), "agent")[1]
