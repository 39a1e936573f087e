"""The console operator an ID token names: their roles (a claim or a dotted path), role and name."""

import pytest

from domain.errors import ExternalTokenRejectedError
from domain.models.identity import claim_values, operator_role, signed_in_identity

ADMIN, READ = "folio-operator-admin", "folio-operator-read"
BASE = {"iss": "https://id.example.com", "sub": "idp|42", "iat": 1_700_000_000, "exp": 1_700_000_600}


@pytest.mark.parametrize(
    ("payload", "claim", "expected"),
    [
        ({"roles": [READ, 7, ""]}, "roles", {READ}),
        ({"groups": f"{ADMIN} {READ}"}, "groups", {ADMIN, READ}),
        ({"realm_access": {"roles": [ADMIN]}}, "realm_access.roles", {ADMIN}),
        ({"https://folio.example.com/roles": [ADMIN]}, "https://folio.example.com/roles", {ADMIN}),  # Auth0's names
        ({"realm_access": [ADMIN]}, "realm_access.roles", set()),
        ({}, "roles", set()),
    ],
)
def test_roles_come_from_a_claim_or_a_dotted_path(payload, claim, expected):
    assert claim_values(payload, claim) == expected


@pytest.mark.parametrize(
    ("roles", "expected"), [({ADMIN, READ}, "admin"), ({ADMIN}, "admin"), ({READ}, "read"), ({"other"}, None)]
)
def test_admin_wins_and_no_console_role_is_none(roles, expected):
    assert operator_role(roles, admin_role=ADMIN, read_role=READ) == expected


def test_the_operator_is_named_by_username_else_email_else_subject_under_a_prefix():
    full = signed_in_identity({**BASE, "preferred_username": "ada", "email": "ada@example.com"}, "roles")
    assert full.operator_name == "oidc:ada"
    assert signed_in_identity({**BASE, "email": "ada@example.com"}, "roles").operator_name == "oidc:ada@example.com"
    assert signed_in_identity(BASE, "roles").operator_name == "oidc:idp|42"
    for too_long in ("a" * 300, "\U0001f600" * 100):  # 300 characters; 400 bytes
        assert signed_in_identity({**BASE, "preferred_username": too_long}, "roles").operator_name == "oidc:idp|42"


def test_an_id_token_without_a_subject_is_refused():
    with pytest.raises(ExternalTokenRejectedError, match="sub"):
        signed_in_identity({**BASE, "sub": ""}, "roles")
