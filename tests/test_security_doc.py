"""docs/security.md names the test that proves each control: every one it names must exist,
so a renamed or deleted test cannot leave the page pointing at nothing."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`|`::(\w+)`")


def _cited_tests() -> list[tuple[str, str]]:
    cited: list[tuple[str, str]] = []
    for line in (ROOT / "docs" / "security.md").read_text(encoding="utf-8").splitlines():
        last_file = None
        for match in _CITED.finditer(line):
            path, name, same_file_name = match.groups()
            if path:
                last_file = path
                cited.append((path, name))
            elif last_file is not None:  # "`::name`" continues the file cited before it
                cited.append((last_file, same_file_name))
    return cited


@functools.cache  # the page cites many tests of one file: each file is parsed once
def _test_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )


def test_the_page_cites_tests() -> None:
    assert len(_cited_tests()) >= 10


def test_every_cited_test_exists() -> None:
    missing = [
        f"{path}::{name}"
        for path, name in _cited_tests()
        if not (ROOT / path).is_file() or name not in _test_names(ROOT / path)
    ]
    assert not missing, f"docs/security.md cites tests that do not exist: {missing}"
