"""docs/api.md is the contract: it must name everything the code offers, and nothing else.

Each table of the page is keyed by its first cell in backticks. The code's side is read
from the code itself, in process and without services: the OpenAPI document from the
endpoint registry (what `/openapi.json` serves), the page routes, the `secureforms`
argparse parser, the settings, the event types core publishes and the error codes core
and the api raise. A failure names the exact row to add or remove.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

from starlette.routing import Mount, Route

from api.endpoints import PUBLIC, Ctx, Registry
from api.openapi import openapi_document
from api.routes import load_all
from api.routes.pages import page_routes
from cli.main import build_parser
from configs import Settings
from core.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
_EVENT = re.compile(r"^[a-z_]+\.[a-z_]+$")
_CODE = re.compile(r"^[a-z][a-z_]+$")
_PUBLISHERS = {"publish", "publish_once", "queue_once", "publish_to_visitor"}
# Settings fields that are not a key of their own: the `keyring` key sets both.
_FIELD_KEYS = {"keyring_path": "keyring", "keyring_explicit": "keyring"}


def doc_rows(section: str) -> dict[str, str]:
    """The rows of one `## section` of docs/api.md (its `###` parts included), by key."""
    rows: dict[str, str] = {}
    current = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif current == section and (match := _ROW.match(line)):
            rows[match.group(1).strip()] = line
    assert rows, f"docs/api.md has no section '## {section}' with rows"
    return rows


def differences(section: str, expected: set[str], row: str) -> list[str]:
    """What docs/api.md lacks and what it names in vain, as instructions to fix it."""
    documented = set(doc_rows(section))
    problems = [
        f"docs/api.md, section '{section}', has no row for `{key}`: add {row.format(key=key)}"
        for key in sorted(expected - documented)
    ]
    problems += [
        f"docs/api.md, section '{section}', has a row for `{key}` that the code does not "
        "have: remove it or correct it"
        for key in sorted(documented - expected)
    ]
    return problems


# -- endpoints -----------------------------------------------------------------------------


def openapi_routes(registry: Registry) -> set[str]:
    document = openapi_document(registry)
    return {f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops}


def endpoint_problems(registry: Registry) -> list[str]:
    return differences("JSON API", openapi_routes(registry), "`| `{key}` | who | body | answer |`")


def test_every_openapi_route_has_a_row_and_every_row_a_route() -> None:
    problems = endpoint_problems(load_all())
    assert not problems, "\n".join(problems)


def test_a_route_added_without_a_row_is_named() -> None:
    # A copy of the real registry plus one endpoint: proves the check above can fail.
    registry = Registry()
    registry.specs = list(load_all().specs)

    @registry.route("GET", "/api/v1/not-documented", auth=PUBLIC)
    def not_documented(ctx: Ctx) -> dict[str, str]:
        return {}

    assert (
        "docs/api.md, section 'JSON API', has no row for `GET /api/v1/not-documented`: add "
        "`| `GET /api/v1/not-documented` | who | body | answer |`"
    ) in endpoint_problems(registry)


def page_keys() -> set[str]:
    keys = set()
    for route in page_routes():
        if isinstance(route, Route):
            keys |= {f"{m} {route.path}" for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, Mount):
            keys.add(f"GET {route.path}/{{path}}")
    return keys


def test_every_page_has_a_row_and_every_row_a_page() -> None:
    problems = differences("Pages", page_keys(), "`| `{key}` | who | does |`")
    assert not problems, "\n".join(problems)


# -- the command line ----------------------------------------------------------------------


def commands(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, list[str]]]:
    """Every runnable `secureforms` command, with the options and arguments it takes."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        words = []
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            long = [o for o in action.option_strings if o.startswith("--")]
            words.append(long[0] if long else str(action.metavar or action.dest).upper())
        yield name, words
    for sub in subs:
        for sub_name, child in sub.choices.items():
            yield from commands(child, f"{name} {sub_name}")


def test_every_command_has_a_row_and_every_row_a_command() -> None:
    found = dict(commands(build_parser(), "secureforms"))
    problems = differences(
        "Command line", set(found), "`| `{key}` | arguments and options | does, prints, exits |`"
    )
    rows = doc_rows("Command line")
    problems += [
        f"the row of `{name}` in docs/api.md does not mention {word}"
        for name, words in found.items()
        for word in words
        if name in rows and word not in rows[name]
    ]
    assert not problems, "\n".join(problems)


# -- settings ------------------------------------------------------------------------------


def setting_keys() -> set[str]:
    keys = {_FIELD_KEYS.get(f.name, f.name) for f in fields(Settings)}
    for path in (ROOT / "configs").glob("*.toml"):
        keys |= set(tomllib.loads(path.read_text()))
    return keys


def test_every_setting_has_a_row_with_its_variable() -> None:
    keys = setting_keys()
    problems = differences(
        "Settings", keys, "`| `{key}` | `SECUREFORMS_<KEY>` | default | meaning |`"
    )
    rows = doc_rows("Settings")
    problems += [
        f"the row of `{key}` in docs/api.md does not name SECUREFORMS_{key.upper()}"
        for key in sorted(keys & set(rows))
        if f"`SECUREFORMS_{key.upper()}`" not in rows[key]
    ]
    assert not problems, "\n".join(problems)


# -- events --------------------------------------------------------------------------------


def _sources(*packages: str) -> Iterator[tuple[Path, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(), str(path))


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def published_events() -> set[str]:
    """Event types passed as literals to the notification publishers."""
    return {
        arg.value
        for _path, tree in _sources("core", "api", "workers")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called(node) in _PUBLISHERS
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _EVENT.match(arg.value)
    }


def test_every_event_type_has_a_row_and_every_row_an_event() -> None:
    events = published_events()
    assert "secure_form.submitted" in events  # the scan itself still finds them
    problems = differences("Events", events, "`| `{key}` | to | data |`")
    assert not problems, "\n".join(problems)


def test_every_webhook_event_has_a_row_and_every_row_an_event() -> None:
    from core.outbox import EVENTS

    problems = differences("Webhook events", set(EVENTS), "`| `{key}` | when | data |`")
    assert not problems, "\n".join(problems)


# -- error codes ---------------------------------------------------------------------------


def _import_all(package: str) -> None:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)


def _subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def error_codes() -> dict[str, set[int]]:
    """Every error code the service answers, with the statuses it comes with (when known)."""
    _import_all("core")
    _import_all("api")
    codes: dict[str, set[int]] = {}
    classes: list[type[DomainError]] = [DomainError, *_subclasses(DomainError)]
    for cls in classes:
        if cls.__name__ != "ApiError":  # its code is given per raise, found below
            codes.setdefault(cls.code, set()).add(cls.status)
    for path, tree in _sources("api"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) in ("ApiError", "error_response"):
                status, code = [*node.args, None, None][:2]
                if isinstance(code, ast.Constant) and isinstance(status, ast.Constant):
                    codes.setdefault(str(code.value), set()).add(int(str(status.value)))
            elif path.name == "errors.py" and isinstance(node, ast.Tuple):
                # (code, message) pairs of the HTTP-level errors: their status varies
                first = node.elts[0] if node.elts else None
                if (
                    len(node.elts) == 2
                    and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and _CODE.match(first.value)
                ):
                    codes.setdefault(first.value, set())
    return codes


def test_every_error_code_has_a_row_with_its_status() -> None:
    codes = error_codes()
    assert {"invalid_or_expired", "invalid_body", "rate_limited"} <= set(codes)
    problems = differences("Error codes", set(codes), "`| `{key}` | status | when |`")
    rows = doc_rows("Error codes")
    problems += [
        f"the row of `{code}` in docs/api.md does not give status {status}"
        for code, statuses in sorted(codes.items())
        for status in sorted(statuses)
        if code in rows and f"| {status} |" not in rows[code]
    ]
    assert not problems, "\n".join(problems)
