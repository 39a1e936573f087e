"""The console's sign-in through the identity provider (OpenID Connect authorization code flow with PKCE).

`GET /console/oidc/start` sends the browser to the provider with a new sign-in (gateway/console/oidc_flow.py);
the provider sends it back to `GET /console/oidc/callback`, which checks the state, has the code exchanged and
the ID token verified (domain/adapters/oidc_sign_in.py), maps the provider's roles to a console role, and issues
the same session cookie as the token sign-in. Whatever goes wrong ends on the sign-in screen with a message
(`/console?sign_in_error=<reason>`, told by `GET /console/oidc`), never a traceback nor a wait past the
provider's timeout.
"""

import hmac
import logging
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect

from config.settings import Settings
from domain.errors import CredentialRejectedError, IdentityProviderUnavailableError
from domain.models.identity import operator_role
from domain.ports.identity import OperatorSignIn
from gateway.auth import Principal
from gateway.console.oidc_flow import FLOW_COOKIE, FLOW_PATH, FlowSigner, SignInFlow
from gateway.console.routes import OPEN, console_guard, session_cookie
from gateway.console.sessions import SessionSigner
from gateway.dependencies import services_of

log = logging.getLogger("folio.console")

CONSOLE = "/console"
CALLBACK = f"{FLOW_PATH}/callback"
MAX_PARAM_CHARS = 2048
NO_STORE = {"Cache-Control": "no-store"}


class SignInOptions(msgspec.Struct, frozen=True):
    provider: str | None  # None: the console signs in with operator tokens only
    start_url: str | None
    message: str | None  # why the latest sign-in through the provider ended on the sign-in screen


def messages(settings: Settings) -> dict[str, str]:
    return {
        "unavailable": "The identity provider cannot be reached: try again in a moment, or sign in with a token.",
        "expired": "That sign-in took too long or was started in another tab: sign in again.",
        "state": "That sign-in does not belong to this browser: sign in again.",
        "denied": "The identity provider did not sign you in.",
        "refused": "The identity provider's answer could not be verified: sign in again.",
        "no_role": "Your account at the identity provider has no console role: ask for "
        f"'{settings.oidc_operator_read_role}' or '{settings.oidc_operator_admin_role}'.",
    }


def provider_name(settings: Settings) -> str:
    return settings.oidc_provider_name or urlsplit(settings.oidc_issuer).hostname or settings.oidc_issuer


def _sign_in_of(state: State) -> tuple[OperatorSignIn, Settings]:
    services = services_of(state)
    if services.operator_sign_in is None:
        raise NotFoundException(detail="the console signs in with operator tokens only (OIDC_CLIENT_ID is not set)")
    return services.operator_sign_in, services.settings


def _redirect_uri(request: Request[Any, Any, Any], settings: Settings) -> str:
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK


def _flow_cookie(flows: FlowSigner, value: str, max_age: int) -> Cookie:
    return Cookie(key=FLOW_COOKIE, value=value, path=FLOW_PATH, max_age=max_age, httponly=True,
                  secure=flows.secure, samesite="lax")  # fmt: skip


def _refused(flows: FlowSigner, reason: str) -> Redirect:
    """Back to the sign-in screen, saying why; the sign-in's cookie is cleared (a code is used once)."""
    return Redirect(f"{CONSOLE}?sign_in_error={reason}", status_code=303, cookies=[_flow_cookie(flows, "", 0)],
                    headers=NO_STORE)  # fmt: skip


def _principal(operator: str, role: str, issued_at: float, ttl_s: int) -> Principal:
    # The session lasts CONSOLE_SESSION_TTL_S from now: the provider signed the operator in just now, and an ID
    # token's own `exp` (often minutes) bounds only its use as a proof, not the session it opens.
    expires_at = time.time() + ttl_s
    return Principal(operator, "operator", expires_at, issued_at=issued_at, kind="oidc", read_only=role == "read")


class ConsoleOidcController(Controller):
    path = CONSOLE
    include_in_schema = False
    guards = [console_guard]

    @get("/oidc", opt={OPEN: True})
    async def options(self, state: State, error: FromQuery[str | None] = None) -> Response[SignInOptions]:
        services = services_of(state)
        settings = services.settings
        if services.operator_sign_in is None:
            return Response(SignInOptions(None, None, None), headers=NO_STORE)
        message = messages(settings).get(error or "")
        return Response(SignInOptions(provider_name(settings), f"{FLOW_PATH}/start", message), headers=NO_STORE)

    @get("/oidc/start", opt={OPEN: True})
    async def start(self, request: Request[Any, Any, Any], state: State) -> Redirect:
        sign_in, settings = _sign_in_of(state)
        flows: FlowSigner = state.console_flows
        value, flow = flows.start()
        try:
            url = await sign_in.authorization_url(
                redirect_uri=_redirect_uri(request, settings), state=flow.state, nonce=flow.nonce,
                code_challenge=flow.challenge,
            )  # fmt: skip
        except IdentityProviderUnavailableError:
            return _refused(flows, "unavailable")
        return Redirect(url, status_code=302, cookies=[_flow_cookie(flows, value, flows.ttl_s)], headers=NO_STORE)

    @get("/oidc/callback", opt={OPEN: True})
    async def callback(
        self,
        request: Request[Any, Any, Any],
        state: State,
        code: FromQuery[str | None] = None,
        sent_state: Annotated[str | None, QueryParameter(name="state")] = None,
        error: FromQuery[str | None] = None,
    ) -> Redirect:
        sign_in, settings = _sign_in_of(state)
        flows: FlowSigner = state.console_flows
        flow = flows.read(request.cookies.get(FLOW_COOKIE))
        if flow is None:
            return _refused(flows, "expired")
        if not sent_state or not hmac.compare_digest(sent_state.encode(), flow.state.encode()):
            return _refused(flows, "state")
        if error is not None or not code or len(code) > MAX_PARAM_CHARS:
            return _refused(flows, "denied")
        return await _finish(request, state, sign_in, settings, flow, code)


async def _finish(
    request: Request[Any, Any, Any], state: State, sign_in: OperatorSignIn, settings: Settings, flow: SignInFlow,
    code: str,
) -> Redirect:  # fmt: skip
    flows: FlowSigner = state.console_flows
    try:
        identity = await sign_in.finish(
            code=code, redirect_uri=_redirect_uri(request, settings), code_verifier=flow.verifier, nonce=flow.nonce
        )
    except IdentityProviderUnavailableError:
        return _refused(flows, "unavailable")
    except CredentialRejectedError as e:
        log.warning("console sign-in through the identity provider refused: %s", e.detail)
        return _refused(flows, "refused")
    role = operator_role(
        identity.roles, admin_role=settings.oidc_operator_admin_role, read_role=settings.oidc_operator_read_role
    )
    if role is None:
        log.warning("console sign-in through the identity provider refused: %s has no console role", identity.subject)
        return _refused(flows, "no_role")
    signer: SessionSigner = state.console_signer
    principal = _principal(identity.operator_name, role, identity.issued_at, signer.ttl_s)
    value, session = signer.issue(principal)
    max_age = max(int(session.expires_at - time.time()), 1)
    cookies = [session_cookie(signer, value, max_age), _flow_cookie(flows, "", 0)]
    return Redirect(CONSOLE, status_code=303, cookies=cookies, headers=NO_STORE)
