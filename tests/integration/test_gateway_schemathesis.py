"""schemathesis against the gateway's own OpenAPI document: no 5xx, no response that breaks the document."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings as hypothesis_settings
from schemathesis.checks import positive_data_acceptance

from consumers.store.db import migrate
from producers.gateway.store import GatewayStore
from simpul import bootstrap
from simpul.settings import Settings


@pytest.fixture(scope="module")
def gateway_schema(settings: Settings, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    prefix = f"st{uuid.uuid4().hex[:8]}"
    state = tmp_path_factory.mktemp("st")
    s = settings.model_copy(update={
        "topic_prefix": prefix,
        "gateway_db_url": f"sqlite:///{state / 'gw.sqlite'}",
        "store_url": f"sqlite:///{state / 'store.sqlite'}"})  # an empty log: receipts answer 404, not 503
    migrate(s.store)
    bootstrap.provision(s)
    key = GatewayStore(s.gateway_db).create_key("3374", label="schemathesis").secret
    app = bootstrap.gateway(s)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.headers = {"X-API-Key": key}  # type: ignore[attr-defined]
    with TestClient(app):  # runs the app's lifespan, whose end closes its Kafka producer after the module
        yield schema


def test_gateway_conforms_to_its_openapi(gateway_schema) -> None:  # noqa: ANN001
    """Every operation, bounded examples: each response documented and valid, none a server error."""
    from hypothesis import given

    operations = [result.ok() for result in gateway_schema.get_all_operations()]
    assert {op.path for op in operations} == {"/v1/events", "/v1/receipts/{event_id}", "/v1/events/{event_id}",
                                              "/v1/rejections", "/healthz", "/readyz"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
                             database=None)
        def check(case) -> None:  # noqa: ANN001
            # Valid per the JSON schema is not always valid per the contract (cross-field rules such as
            # completion after submission), so a 422 for "schema-valid" data is right and not checked.
            response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
            assert response.status_code < 500, (operation.path, response.status_code, response.text)

        check()
