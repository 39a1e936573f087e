"""The web role's OpenID Connect parts: the provider's access tokens (OIDC_ISSUER) and the console's sign-in
through it (OIDC_CLIENT_ID too), sharing one key set."""

import contextlib

from config.settings import Settings
from config.wiring.background import run_in_background
from domain.adapters.oidc import OidcExternalTokens
from domain.adapters.oidc_sign_in import OidcOperatorSignIn
from domain.ports.identity import ExternalTokens, OperatorSignIn


def open_identity(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> tuple[ExternalTokens | None, OperatorSignIn | None]:
    """The issuer's tokens and the console's sign-in (None when not configured); keys fetched from the start."""
    if not settings.oidc_issuer:
        return None, None
    tokens = OidcExternalTokens(
        settings.oidc_issuer,
        settings.oidc_audience,
        algorithms=settings.oidc_algorithm_names,
        leeway_s=settings.oidc_leeway_s,
        refresh_s=settings.oidc_jwks_refresh_s,
        min_refetch_s=settings.oidc_min_refetch_s,
        timeout_s=settings.oidc_http_timeout_s,
    )
    stack.push_async_callback(tokens.aclose)  # after the refresher below has stopped
    run_in_background(stack, tokens.run(), "oidc-keys")
    if not settings.oidc_client_id:
        return tokens, None
    sign_in = OidcOperatorSignIn(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret,
        keys=tokens.keys,
        algorithms=settings.oidc_algorithm_names,
        leeway_s=settings.oidc_leeway_s,
        roles_claim=settings.oidc_roles_claim,
        timeout_s=settings.oidc_http_timeout_s,
    )
    stack.push_async_callback(sign_in.aclose)
    return tokens, sign_in
