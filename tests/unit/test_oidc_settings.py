"""The OpenID Connect settings: off by default, and a configuration that would accept too much is refused."""

import pytest

from config.settings import SettingsError, load_settings

ISSUER = {"OIDC_ISSUER": "https://id.example.com/", "OIDC_AUDIENCE": "https://api.folio.example"}


def test_off_by_default_with_small_defaults():
    defaults = load_settings({})
    assert defaults.oidc_issuer == ""
    assert defaults.oidc_algorithm_names == ("RS256", "ES256", "EdDSA")
    assert (defaults.oidc_leeway_s, defaults.oidc_auto_provision) == (30.0, False)
    assert (defaults.oidc_jwks_refresh_s, defaults.oidc_min_refetch_s, defaults.oidc_http_timeout_s) == (300, 10, 2)


def test_a_configured_issuer_with_its_audience_and_algorithms():
    configured = load_settings({**ISSUER, "OIDC_ALGORITHMS": " ES256 , PS256", "OIDC_AUTO_PROVISION": "true"})
    assert configured.oidc_algorithm_names == ("ES256", "PS256")
    assert configured.oidc_auto_provision is True
    local = load_settings({**ISSUER, "OIDC_ISSUER": "http://127.0.0.1:8080/realms/dev"})
    assert local.oidc_issuer == "http://127.0.0.1:8080/realms/dev"


def test_an_issuer_that_is_folios_own_is_refused():
    with pytest.raises(SettingsError, match="OIDC_ISSUER must differ from JWT_ISSUER"):
        load_settings({**ISSUER, "JWT_ISSUER": ISSUER["OIDC_ISSUER"]})


def test_an_issuer_without_an_audience_is_refused():
    with pytest.raises(SettingsError, match="OIDC_AUDIENCE must be set"):
        load_settings({"OIDC_ISSUER": "https://id.example.com/"})


@pytest.mark.parametrize("issuer", ["http://id.example.com/", "id.example.com", "https://id.example.com/?a=1"])
def test_an_issuer_that_is_not_https_is_refused(issuer: str):
    with pytest.raises(SettingsError, match="OIDC_ISSUER must be an https URL"):
        load_settings({**ISSUER, "OIDC_ISSUER": issuer})


@pytest.mark.parametrize("algorithms", ["HS256", "RS256,none", "", "RS256,HS512"])
def test_symmetric_or_unknown_algorithms_are_refused(algorithms: str):
    with pytest.raises(SettingsError, match="OIDC_ALGORITHMS must list one or more of"):
        load_settings({**ISSUER, "OIDC_ALGORITHMS": algorithms})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OIDC_LEEWAY_S", "301"),
        ("OIDC_MIN_REFETCH_S", "0"),
        ("OIDC_HTTP_TIMEOUT_S", "-1"),
        ("OIDC_JWKS_REFRESH_S", "0"),
    ],
)
def test_out_of_range_durations_are_refused_naming_the_variable(variable: str, value: str):
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_the_consoles_sign_in_through_the_provider_is_off_by_default_with_role_names():
    defaults = load_settings({})
    assert (defaults.oidc_client_id, defaults.oidc_client_secret, defaults.public_url) == ("", "", "")
    assert defaults.oidc_roles_claim == "roles"
    assert (defaults.oidc_operator_admin_role, defaults.oidc_operator_read_role) == (
        "folio-operator-admin",
        "folio-operator-read",
    )
    on = load_settings({**ISSUER, "OIDC_CLIENT_ID": "folio-console", "OIDC_ROLES_CLAIM": "realm_access.roles"})
    assert (on.oidc_client_id, on.oidc_roles_claim) == ("folio-console", "realm_access.roles")


def test_a_console_client_without_an_issuer_is_refused():
    with pytest.raises(SettingsError, match="OIDC_CLIENT_ID needs OIDC_ISSUER"):
        load_settings({"OIDC_CLIENT_ID": "folio-console"})


def test_production_needs_the_public_url_the_provider_sends_the_browser_back_to():
    production = {**ISSUER, "ENVIRONMENT": "production", "OIDC_CLIENT_ID": "folio-console"}
    with pytest.raises(SettingsError, match="PUBLIC_URL must be set in production"):
        load_settings(production)
    assert load_settings({**production, "PUBLIC_URL": "https://folio.example.com"}).public_url == (
        "https://folio.example.com"
    )


@pytest.mark.parametrize("url", ["folio.example.com", "ftp://folio.example.com", "https://folio.example.com/app"])
def test_a_public_url_that_is_not_a_base_url_is_refused(url: str):
    with pytest.raises(SettingsError, match="PUBLIC_URL must be an http"):
        load_settings({"PUBLIC_URL": url})


def test_an_empty_roles_claim_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="OIDC_ROLES_CLAIM"):
        load_settings({"OIDC_ROLES_CLAIM": ""})
