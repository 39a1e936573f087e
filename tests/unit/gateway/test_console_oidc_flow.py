"""A sign-in's cookie: it carries state, nonce and verifier signed, for ten minutes, and nothing forged."""

import base64
import hashlib

from gateway.console.oidc_flow import FlowSigner
from gateway.console.sessions import SessionSigner

SECRET = b"s" * 32
NOW = 1_700_000_000.0


def test_a_started_sign_in_reads_back_until_it_expires():
    signer = FlowSigner(SECRET, secure=True)
    value, flow = signer.start(now=NOW)
    assert signer.read(value, now=NOW + 599) == flow
    assert signer.read(value, now=NOW + 600) is None
    assert len({flow.state, flow.nonce, flow.verifier}) == 3
    assert 43 <= len(flow.verifier) <= 128  # RFC 7636, section 4.1


def test_the_challenge_is_the_s256_of_the_verifier():
    _, flow = FlowSigner(SECRET, secure=True).start(now=NOW)
    digest = hashlib.sha256(flow.verifier.encode()).digest()
    assert flow.challenge == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_a_forged_or_foreign_cookie_is_refused():
    signer = FlowSigner(SECRET, secure=True)
    value, _ = signer.start(now=NOW)
    payload, _, signature = value.partition(".")
    assert signer.read(f"{payload}x.{signature}", now=NOW) is None
    assert FlowSigner(b"o" * 32, secure=True).read(value, now=NOW) is None
    assert signer.read("", now=NOW) is None
    assert signer.read("a" * 2000, now=NOW) is None


def test_a_sign_in_cookie_is_never_a_session_under_the_same_secret():
    value, _ = FlowSigner(SECRET, secure=True).start(now=NOW)
    assert SessionSigner(SECRET, ttl_s=600, secure=True).read(value, {}, now=NOW) is None
