"""The OpenAPI document tells the truth: one component per schema class, and each operation's request body
is the schema its handler reads."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pydantic
import pytest
from django.apps import apps as django_apps

from api.api import api

ROOT = Path(__file__).resolve().parents[2]
# Every app of this project (an app added later is checked without being listed here).
PROJECT_APPS = {a.name.split(".")[0] for a in django_apps.get_app_configs() if Path(a.path).is_relative_to(ROOT)}


def _subclasses(cls: type) -> set[type]:
    seen: set[type] = set()
    todo = [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return seen


def test_no_two_schema_classes_share_a_component_name() -> None:
    doc = api.get_openapi_schema()
    components = set(doc["components"]["schemas"])
    owners: dict[str, set[str]] = defaultdict(set)
    for cls in _subclasses(pydantic.BaseModel):
        if cls.__module__.split(".")[0] in PROJECT_APPS and cls.__name__ in components:
            owners[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    shared = {name: sorted(where) for name, where in owners.items() if len(where) > 1}
    assert shared == {}


def _body_fields(doc: dict, path: str, method: str = "post") -> set[str]:
    body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    return set(doc["components"]["schemas"][name]["properties"])


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/api/v1/workorders/{order_id}/rate", {"solved", "satisfaction", "comment"}),
        ("/api/v1/volunteers/participations/{participation_id}/rate", {"rating", "hours"}),
    ],
)
def test_a_request_body_is_documented_as_the_schema_its_handler_reads(path: str, fields: set[str]) -> None:
    assert fields <= _body_fields(api.get_openapi_schema(), path)
