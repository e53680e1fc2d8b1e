"""Schemathesis against the OpenAPI document: generated requests for every operation find no 5xx
and no response that breaks the documented schema. Bounded: a few dozen examples per operation.

The operations are walked by hand rather than through schemathesis' pytest plugin, which does not
work with this pytest version; each operation still runs as its own Hypothesis test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.settings import Settings

EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp_path: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'fuzz.db'}", keys_dir=tmp_path / "keys", demo=True
        )
    )
    with TestClient(app):  # runs the lifespan: ledger opened, demo loaded
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def streams_forever(operation: Any) -> bool:
    """Whether ``operation`` answers an endless event stream, which no generated call could finish
    reading (the live feed: tests/service/test_feed.py exercises it)."""
    content = operation.definition.raw.get("responses", {}).get("200", {}).get("content", {})
    return "text/event-stream" in content


def test_every_operation_is_documented(api_schema: Any) -> None:
    paths = {op.path for op in operations(api_schema)}
    for expected in ("/checkpoint", "/api/v1/statements", "/epcis/capture", "/epcis/events",
                     "/api/v1/items/{item}", "/api/v1/parties/{party_id}"):  # fmt: skip
        assert expected in paths
    document = api_schema.raw_schema
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("description"), f"{method.upper()} {path} has no description"


def test_no_server_errors_and_responses_match_the_schema(api_schema: Any) -> None:
    failures = []
    for operation in operations(api_schema):
        if streams_forever(operation):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            # Schema-valid but meaningless requests (start past end, an unknown party) are
            # rightly refused with 400/404; OpenAPI cannot express those rules.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as e:  # report every operation's failure at once
            failures.append(f"{operation.method.upper()} {operation.path}: {e}")
    assert not failures, "\n\n".join(failures)


def test_every_field_and_parameter_is_described(api_schema: Any) -> None:
    document = api_schema.raw_schema
    builtin = {"HTTPValidationError", "ValidationError"}
    for name, component in document["components"]["schemas"].items():
        if name in builtin:
            continue
        for prop, spec in component.get("properties", {}).items():
            referenced = "$ref" in spec or any("$ref" in s for s in spec.get("anyOf", []))
            assert referenced or spec.get("description"), f"{name}.{prop} has no description"
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                described = parameter.get("description") or parameter["schema"].get("description")
                assert described, f"{method.upper()} {path}: parameter {parameter['name']}"
