"""`make run`'s banner tells how to sign in to the console: a token, and the identity provider when it is on."""

from cli.devrun import _banner
from cli.embedded import EmbeddedServers

SERVERS = EmbeddedServers("postgresql://db", "redis://cache", "smtp://mail")
ISSUER = "https://id.example.com/realms/folio"


def test_the_banner_offers_the_identity_provider_only_when_the_console_signs_in_through_it():
    tokens = ("user-token", "operator-token")
    assert "sign in through" not in _banner(8000, SERVERS, tokens)
    lines = _banner(8000, SERVERS, tokens, ISSUER).splitlines()
    console = next(i for i, line in enumerate(lines) if line.startswith("  Console"))
    assert lines[console].endswith("sign in with the operator token: operator-token")
    assert lines[console + 1].strip() == f"or sign in through {ISSUER}"
