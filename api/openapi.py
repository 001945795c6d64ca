"""The OpenAPI 3.1 document, built from the endpoint registry (never written by hand)."""

from __future__ import annotations

import re
from typing import Any

from api.endpoints import ANY_BODY, PUBLIC, USER_OR_KEY, Registry

_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
}

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _body_schema(body: Any) -> dict[str, Any]:
    if body is ANY_BODY:
        return {"type": "object"}
    props = {}
    for name, spec in body.items():
        types = [_JSON_TYPES[t] for t in spec.types]
        prop: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        if spec.max_length:
            prop["maxLength"] = spec.max_length
        props[name] = prop
    required = [n for n, s in body.items() if s.required]
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def openapi_document(registry: Registry) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in registry.specs:
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": spec.handler.__module__.rsplit(".", 1)[-1] + "_" + spec.handler.__name__,
            "tags": [spec.tag] if spec.tag else [],
            "responses": {
                str(spec.status): {"description": "Success"},
                "400": {
                    "description": "malformed_json",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "422": {
                    "description": "invalid_body",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        for status, code in spec.responses.items():
            op["responses"][str(status)] = {
                "description": code,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        if spec.auth != PUBLIC:
            op["security"] = [{"bearer": []}]
            op["responses"]["401"] = {"description": "unauthenticated or session_expired"}
        if spec.auth == USER_OR_KEY:
            # The scope a site API key needs here (users are not scoped).
            op["x-api-key-scope"] = str(spec.scope)
        if spec.rate:
            op["responses"]["429"] = {"description": "rate_limited"}
        params = re.findall(r"{(\w+)}", spec.path)
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        if spec.method in ("POST", "PUT", "PATCH") and spec.body is not None:
            op["requestBody"] = {
                "required": any(s.required for s in spec.body.values()) or spec.body is ANY_BODY,
                "content": {"application/json": {"schema": _body_schema(spec.body)}},
            }
            if spec.max_body is not None:
                # Bigger than the service-wide max_body_bytes: clients need to know.
                op["requestBody"]["x-max-body-bytes"] = spec.max_body
            op["responses"]["413"] = {"description": "payload_too_large"}
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Secure forms for chat", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
