"""Checking a test client's answer against the OpenAPI schema DCP generates, with schemathesis' own validation."""

import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from schemathesis.core.transport import Response


def load_schema():
    """The schema /api/schema/ serves, as schemathesis reads it."""
    return schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))


def assert_conforms(schema, method: str, path: str, response) -> None:
    """The answer's status is documented for this operation, and its headers and body are what the schema says."""
    operation = schema[path][method.upper()]
    request = requests.Request(method.upper(), f"http://testserver{response.wsgi_request.get_full_path()}").prepare()
    answer = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=request,
        elapsed=0.0,
        verify=True,
    )
    documented = operation.definition.raw["responses"]
    assert str(response.status_code) in documented, (
        f"{method} {path} answered {response.status_code}, which its schema does not list "
        f"({', '.join(documented)}): {response.content[:300]!r}"
    )
    operation.validate_response(answer)
