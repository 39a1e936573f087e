"""Property-based run of schemathesis against Folio's own OpenAPI document, on a real granian process.

Every operation gets generated requests, with an operator's token or a user's; each response must
not be a server error and must match the document (status code, content type, body schema).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

try:
    from gateway.auth import mint_token
except ImportError:  # until authentication lands
    mint_token = None

pytestmark = [pytest.mark.http, pytest.mark.integration]

EXAMPLES_PER_OPERATION = 60
MIN_REQUESTS = 500
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _reasons(error: BaseException) -> str:
    found = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
    return "; ".join(str(e).split("\n\nValue:")[0][:600] for e in found)


@pytest.mark.skipif(mint_token is None, reason="gateway.auth.mint_token is missing: schemathesis needs valid tokens")
def test_the_app_honours_its_own_openapi_document(two_web_processes, settings):
    base_url = two_web_processes[0].url
    schema = schemathesis.openapi.from_url(f"{base_url}/docs/openapi.json")
    tokens = {
        "operator": mint_token(settings, subject="schemathesis", scope="operator"),
        "user": mint_token(settings, subject="1", scope="user"),
    }
    sent: list[int] = []
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6

    for operation in operations:

        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy(), who=st.sampled_from(sorted(tokens)))
        def run(case, who):
            response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {tokens[who]}"})
            sent.append(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, BaseExceptionGroup) as e:  # collect them all, then fail once with the list
                failures.append(f"{case.operation.label} as {who} -> {response.status_code}: {_reasons(e)}")

        run()

    assert len(sent) >= MIN_REQUESTS, len(sent)
    assert not [s for s in sent if s >= 500]
    distinct = sorted({f.split(" as ")[0]: f for f in failures}.values())
    assert not failures, f"{len(failures)} violations; one per operation:\n\n" + "\n\n".join(distinct)
