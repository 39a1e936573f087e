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
