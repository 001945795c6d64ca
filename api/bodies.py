"""Reading JSON bodies strictly: size-limited, an object, known fields, right types."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from api.errors import ApiError
from core.text import storable


@dataclass(frozen=True)
class F:
    """One field of a request body: the JSON types it may have and whether it must be there."""

    types: tuple[type, ...]
    required: bool = False
    max_length: int | None = None

    def type_name(self) -> str:
        names = {
            str: "a string",
            bool: "true or false",
            int: "a whole number",
            float: "a number",
            dict: "an object",
            list: "a list",
        }
        return " or ".join(names.get(t, t.__name__) for t in self.types)


def field(*types: type, required: bool = False, max_length: int | None = None) -> F:
    return F(types, required, max_length)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"The body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _clean_text(data: object) -> bool:
    """No NUL and nothing UTF-8 cannot encode, in any key or string: databases and the
    vault would refuse them later, as a 500 or a lost submission."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not storable(item):
            return False
    return True


def parse_json(raw: bytes, schema: Mapping[str, F] | None) -> dict[str, Any]:
    """Decode and check a body. With `schema=None` any object is accepted (checked later)."""
    if not raw.strip():
        if schema is None or not any(f.required for f in schema.values()):
            return {}
        raise ApiError(400, "malformed_json", "The body must be a JSON object.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", "The body must be a JSON object.")
    if not _clean_text(data):
        raise ApiError(
            422, "invalid_body", "The body holds text with a NUL or a broken (unpaired) character."
        )
    if schema is None:
        return data
    problems: dict[str, str] = {}
    unknown = sum(1 for name in data if name not in schema)
    if unknown:
        # Unknown names are not repeated (they are client input); the allowed ones are.
        problems["_unknown"] = (
            f"{unknown} field(s) this endpoint does not take; it takes: {', '.join(schema)}."
        )
    for name, spec in schema.items():
        if name not in data or data[name] is None:
            if spec.required:
                problems[name] = "This field is required."
            continue
        value = data[name]
        # bool is an int in Python; JSON true must not pass as a number and vice versa.
        ok = any(
            isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
            for t in spec.types
        )
        if not ok:
            problems[name] = f"Must be {spec.type_name()}."
        elif (
            spec.max_length is not None and isinstance(value, str) and len(value) > spec.max_length
        ):
            problems[name] = f"At most {spec.max_length} characters."
    if problems:
        raise ApiError(422, "invalid_body", "Some fields of the body are wrong.", fields=problems)
    return data
