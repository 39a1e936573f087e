"""Console sessions: signed, expiring, revocable with the operator's tokens, and bound to their CSRF token."""

from gateway.auth import Principal
from gateway.console.sessions import SessionSigner

SECRET = b"k" * 32
NOW = 1_800_000_000.0


def operator(*, read_only: bool = False, expires_at: float = NOW + 3600) -> Principal:
    return Principal("ada", "operator", expires_at, issued_at=NOW - 10, read_only=read_only)


def test_a_session_reads_back_with_its_role_and_never_outlives_its_token():
    signer = SessionSigner(SECRET, ttl_s=8 * 3600, secure=True)
    cookie, session = signer.issue(operator(), now=NOW)
    assert session.expires_at == NOW + 3600  # the token's end, sooner than the session's eight hours
    read = signer.read(cookie, {}, now=NOW + 60)
    assert read == session
    assert read.role == "admin"
    assert signer.issue(operator(read_only=True), now=NOW)[1].role == "read"
    assert signer.read(cookie, {}, now=NOW + 3600) is None  # expired


def test_a_forged_or_foreign_cookie_is_refused():
    signer = SessionSigner(SECRET, ttl_s=600, secure=True)
    cookie, _ = signer.issue(operator(), now=NOW)
    payload, _, signature = cookie.partition(".")
    assert signer.read(f"{payload}x.{signature}", {}, now=NOW) is None
    assert signer.read(f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}", {}, now=NOW) is None
    assert signer.read("", {}, now=NOW) is None
    assert SessionSigner(b"o" * 32, ttl_s=600, secure=True).read(cookie, {}, now=NOW) is None


def test_revoking_the_operators_tokens_ends_the_session():
    signer = SessionSigner(SECRET, ttl_s=600, secure=True)
    cookie, _ = signer.issue(operator(), now=NOW)
    assert signer.read(cookie, {"operator:ada": NOW - 5}, now=NOW) is None
    assert signer.read(cookie, {"operator:bob": NOW - 5}, now=NOW) is not None


def test_the_csrf_token_belongs_to_one_session():
    signer = SessionSigner(SECRET, ttl_s=600, secure=True)
    _, first = signer.issue(operator(), now=NOW)
    _, second = signer.issue(operator(), now=NOW)
    assert signer.csrf_ok(first, signer.csrf(first))
    assert not signer.csrf_ok(first, signer.csrf(second))
    assert not signer.csrf_ok(first, None)
