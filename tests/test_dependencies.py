"""Every runtime dependency in pyproject.toml is there for a reason this test can see: the
packages import it, or it is one of the few loaded by another library by name."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["configs", "vault", "core", "producers", "workers", "api", "connectors", "cli"]
# Never imported by us, loaded by another library from a setting.
LOADED_BY_NAME = {
    "uvloop": "uvicorn's event loop (loop='auto')",
    "httptools": "uvicorn's HTTP parser (http='auto')",
    "psycopg": "SQLAlchemy's postgresql+psycopg:// dialect",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    return modules


def test_every_declared_dependency_is_used() -> None:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        declared = tomllib.load(fh)["project"]["dependencies"]
    names = {_normal(re.split(r"[\[<>=~;!\s]", d, maxsplit=1)[0]) for d in declared}
    by_module = packages_distributions()
    used = {_normal(d) for m in _imported_top_level_modules() for d in by_module.get(m, [])}
    unused = sorted(names - used - set(LOADED_BY_NAME))
    assert not unused, f"declared in pyproject.toml, never imported: {unused}"
