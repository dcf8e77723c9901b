"""The contract test: every operation of the OpenAPI document, called with requests generated from the
document (schemathesis, bounded), answers with a status the document lists, in the content type it
lists, with a body that matches the documented schema, and never with a 500.

It runs as the county's superuser (the widest view, so that success answers are checked too) in a
database with the test county; each operation's examples are rolled back afterwards. Bounded: a few
examples per operation, derandomized, so that a run is repeatable and takes about a minute."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import token_create
from api.api import api

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()

# What the document promises about answers. Not "positive data accepted": a schema-valid body may still be
# refused by the rules the document cannot express (an unknown category code: 422), as it should be.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection when a request ends; the test's transaction lives on
    it (Django's test Client disconnects the same receivers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth(world) -> dict[str, str]:
    _token, raw = token_create(user=world.c.u_admin, name="contract")
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_documented_contract(case, auth) -> None:
    case.call_and_validate(headers=auth, checks=CHECKS)
