"""Every endpoint's success body is described in api.answers, and the schemas are sound."""

from __future__ import annotations

from jsonschema_rs import Draft202012Validator, ValidationError  # schemathesis's validator

from api.answers import ANSWERS
from api.openapi import openapi_document
from api.routes import load_all

NO_JSON_BODY = {"GET /metrics"}


def test_every_endpoint_with_a_body_has_its_answer() -> None:
    registry = load_all()
    keys = {f"{s.method} {s.path}" for s in registry.specs if s.status != 204}
    assert sorted(keys - NO_JSON_BODY - set(ANSWERS)) == []
    assert sorted(set(ANSWERS) - keys) == []


def test_the_answers_are_valid_schemas_and_closed_at_the_top() -> None:
    for key, schema in ANSWERS.items():
        Draft202012Validator(schema)
        if schema.get("type") == "object" and "properties" in schema and key != "GET /openapi.json":
            assert "required" in schema, key


def test_the_error_shape_admits_only_what_api_errors_sends() -> None:
    validator = Draft202012Validator(openapi_document(load_all())["components"]["schemas"]["Error"])
    validator.validate({"error": "invalid_body", "message": "m", "fields": {"name": "bad"}})
    for bad in (
        {"error": "x"},
        {"error": "Bad Code", "message": "m"},
        {"error": "a_b", "message": "m", "value": "echo"},
    ):
        try:
            validator.validate(bad)
        except ValidationError:
            continue
        raise AssertionError(f"the Error schema admits {bad}")
