"""The OpenAPI 3.1 document, built from the endpoint registry (never written by hand).

Precise enough to fuzz against (tests/integration/test_fuzz.py): each operation names its
request body, its query parameters, its success body (api.answers) and every error status
it may answer, each in the one error shape (api.errors).
"""

from __future__ import annotations

import re
from typing import Any

from api.answers import ANSWERS
from api.endpoints import ANY_BODY, PUBLIC, USER_OR_KEY, EndpointSpec, Registry

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
    "additionalProperties": False,
    "properties": {
        "error": {"type": "string", "pattern": "^[a-z][a-z_]+$"},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# Answers that are not JSON: Prometheus text, and the events' SSE variant.
_TEXT_ANSWERS = {"/metrics": "text/plain"}
_SSE = "text/event-stream"
# An answer other than success that keeps the success shape: readiness says which check failed.
_ANSWERED_IN_SHAPE = {("GET", "/readyz", 503)}


def _error(codes: str) -> dict[str, Any]:
    return {
        "description": codes,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _body_schema(body: Any) -> dict[str, Any]:
    if body is ANY_BODY:
        return {"type": "object"}
    props = {}
    for name, spec in body.items():
        types = [_JSON_TYPES[t] for t in spec.types]
        # A field left out and a field sent as null are the same to api.bodies.parse_json.
        if not spec.required:
            types.append("null")
        prop: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        if spec.max_length:
            prop["maxLength"] = spec.max_length
        props[name] = prop
    required = [n for n, s in body.items() if s.required]
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _success(spec: EndpointSpec) -> dict[str, Any]:
    if spec.status == 204:
        return {"description": "Done: no body."}
    if spec.path in _TEXT_ANSWERS:
        return {
            "description": spec.summary,
            "content": {_TEXT_ANSWERS[spec.path]: {"schema": {"type": "string"}}},
        }
    # Every real endpoint has its entry (tests/api/test_answers.py); a registry built by a
    # test may not.
    schema = ANSWERS.get(f"{spec.method} {spec.path}", {})
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if spec.path.endswith("/events"):
        content[_SSE] = {"schema": {"type": "string"}}
    return {"description": spec.summary, "content": content}


def _operation(spec: EndpointSpec) -> dict[str, Any]:
    params = re.findall(r"{(\w+)}", spec.path)
    responses: dict[str, Any] = {str(spec.status): _success(spec)}
    op: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": spec.handler.__module__.rsplit(".", 1)[-1] + "_" + spec.handler.__name__,
        "tags": [spec.tag] if spec.tag else [],
        "responses": responses,
    }
    if params:
        # An id of nothing on the caller's site, or a parameter no resource is named by.
        responses["404"] = _error("not_found")
    if spec.query:
        responses["422"] = _error("invalid_query")
    for status, code in spec.responses.items():
        responses[str(status)] = _error(code)
        if (spec.method, spec.path, status) in _ANSWERED_IN_SHAPE:
            responses[str(status)] = {**_success(spec), "description": code}
    if spec.auth != PUBLIC:
        op["security"] = [{"session": []}]
        if spec.auth == USER_OR_KEY:
            op["security"].append({"site_key": []})
            # The scope a site API key needs here (users are not scoped).
            op["x-api-key-scope"] = str(spec.scope)
        responses["401"] = _error("unauthenticated or session_expired")
    if spec.rate:
        responses["429"] = _error("rate_limited")
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": dict(schema)}
        for name, schema in (spec.query or {}).items()
    ]
    if parameters:
        op["parameters"] = parameters
    if spec.method in ("POST", "PUT", "PATCH"):
        responses["400"] = _error("malformed_json")
        responses["413"] = _error("payload_too_large")
        code = responses.get("422", {}).get("description")
        responses["422"] = _error(" or ".join(filter(None, ["invalid_body", code])))
        if spec.body is not None:
            op["requestBody"] = {
                "required": any(s.required for s in spec.body.values()) or spec.body is ANY_BODY,
                "content": {"application/json": {"schema": _body_schema(spec.body)}},
            }
            if spec.max_body is not None:
                # Bigger than the service-wide max_body_bytes: clients need to know.
                op["requestBody"]["x-max-body-bytes"] = spec.max_body
    return op


def openapi_document(registry: Registry) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in registry.specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Secure forms for chat", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "session": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user's session (sfs_...), from POST /api/v1/auth/login.",
                },
                "site_key": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A site's API key (sfk_...), for a chat platform's back end.",
                },
            },
        },
    }
