"""Keys and token verification without servers: production refuses to start without a key."""

import hashlib
import hmac
import json
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.jwt_keys import load_jwt_keys
from config.settings import Settings, SettingsError, load_settings
from gateway.app import create_app
from gateway.auth import AuthenticationError, Authenticator, mint_token

SECRET = "unit-test-secret-" + "x" * 32


def test_production_refuses_to_start_without_a_key(tmp_path):
    settings = load_settings({"ENVIRONMENT": "production", "DATA_DIR": str(tmp_path)})
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        create_app(settings)
    assert not (tmp_path / "jwt-secret").exists()  # nothing generated in production


def test_production_with_an_asymmetric_algorithm_names_the_key_file(tmp_path):
    settings = Settings(environment="production", jwt_algorithm="EdDSA", data_dir=str(tmp_path))
    with pytest.raises(SettingsError, match="JWT_PUBLIC_KEY_FILE"):
        load_jwt_keys(settings)


@pytest.mark.parametrize("environment", ["production", "development"])
def test_a_short_hmac_secret_is_rejected(environment):
    with pytest.raises(SettingsError, match="JWT_SECRET must be at least 32 bytes"):
        load_jwt_keys(Settings(environment=environment, jwt_secret="too-short"))


async def test_development_generates_one_private_secret_and_reuses_it(tmp_path):
    settings = Settings(environment="development", data_dir=str(tmp_path / "data"))
    token = mint_token(settings, subject="5", scope="user")
    path = tmp_path / "data" / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Settings(environment="test", data_dir=str(tmp_path / "data"))  # another process, same folder
    assert (await Authenticator(again).principal(f"Bearer {token}")).user_id == 5


def _ed25519_files(folder: Path) -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private, public = folder / "jwt.key", folder / "jwt.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return str(private), str(public)


async def test_a_key_pair_signs_and_verifies_and_refuses_algorithm_confusion(tmp_path):
    private, public = _ed25519_files(tmp_path)
    settings = Settings(
        environment="production", jwt_algorithm="EdDSA", jwt_private_key_file=private, jwt_public_key_file=public
    )
    auth = Authenticator(settings)
    assert (await auth.principal(f"Bearer {mint_token(settings, subject='ops', scope='operator')}")).is_operator
    # An HS256 token "signed" with the public key, the classic confusion attack: rejected.
    claims = {"sub": "1", "scope": "operator", "iss": "folio", "aud": "folio-api", "iat": 1, "nbf": 1, "exp": 2**33}
    with pytest.raises(AuthenticationError):
        await auth.principal(f"Bearer {_hmac_with(Path(public).read_bytes(), claims)}")


def _hmac_with(key: bytes, claims: dict) -> str:
    """HS256 by hand, since PyJWT itself refuses to use a PEM key as an HMAC secret."""

    def b64(data: bytes) -> str:
        return jwt.utils.base64url_encode(data).decode()

    header = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
    signing_input = f"{b64(header)}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


async def test_a_token_the_rate_limiter_identified_is_not_decoded_again_for_its_request(monkeypatch):
    settings = Settings(environment="test", jwt_secret=SECRET)
    auth = Authenticator(settings)
    header = f"Bearer {mint_token(settings, subject='7', scope='user')}"
    identified = auth.identify(header)  # the rate limiter's key: the signature checked once
    assert identified is not None
    assert identified.user_id == 7
    decoded: list[str] = []
    real = auth._decode
    monkeypatch.setattr(auth, "_decode", lambda token: decoded.append(token) or real(token))
    assert await auth.principal(header) is identified  # verified (expiry, revocation) without a second decode
    other = f"Bearer {mint_token(settings, subject='8', scope='user')}"
    assert (await auth.principal(other)).user_id == 8  # not identified first: decoded here
    assert decoded == [other.removeprefix("Bearer ")]


async def test_a_verified_token_is_remembered_and_a_verify_only_process_cannot_mint(tmp_path):
    settings = Settings(environment="test", jwt_secret=SECRET)
    auth = Authenticator(settings)
    header = f"Bearer {mint_token(settings, subject='7', scope='user')}"
    first = await auth.principal(header)
    assert auth.cached(header) is first  # the second request costs a dict lookup
    assert await auth.principal(header) is first
    assert first.may_access_user(7)
    assert not first.may_access_user(8)
    _, public = _ed25519_files(tmp_path)
    verify_only = Settings(environment="production", jwt_algorithm="EdDSA", jwt_public_key_file=public)
    with pytest.raises(SettingsError, match="JWT_PRIVATE_KEY_FILE"):
        mint_token(verify_only, subject="1", scope="user")
