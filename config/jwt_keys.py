"""The JWT keys, loaded in one place for both minting and verifying tokens.

HS* algorithms use `JWT_SECRET`; RS*/ES*/EdDSA use the PEM files in `JWT_PRIVATE_KEY_FILE` (minting)
and `JWT_PUBLIC_KEY_FILE` (verifying). Production refuses to run without a configured key; in
development and test an unset HMAC secret is generated once into `DATA_DIR/jwt-secret` (mode 0600).
"""

import contextlib
import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings, SettingsError

MIN_SECRET_BYTES = 32
DEV_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True, slots=True)
class JwtKeys:
    """The pinned algorithm and its keys; `signing` is None where only verification is configured."""

    algorithm: str
    verifying: str
    signing: str | None


def is_hmac(algorithm: str) -> bool:
    return algorithm.startswith("HS")


@functools.lru_cache(maxsize=8)
def load_jwt_keys(settings: Settings) -> JwtKeys:
    """The keys for `settings`; raises SettingsError naming the variable when they are missing or weak."""
    if is_hmac(settings.jwt_algorithm):
        secret = settings.jwt_secret or _development_secret(settings)
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes for {settings.jwt_algorithm}")
        return JwtKeys(settings.jwt_algorithm, verifying=secret, signing=secret)
    if not settings.jwt_public_key_file:
        raise SettingsError(f"JWT_PUBLIC_KEY_FILE must name a PEM public key for {settings.jwt_algorithm}")
    public = _read_pem(settings.jwt_public_key_file, "JWT_PUBLIC_KEY_FILE")
    private_file = settings.jwt_private_key_file
    private = _read_pem(private_file, "JWT_PRIVATE_KEY_FILE") if private_file else None
    return JwtKeys(settings.jwt_algorithm, verifying=public, signing=private)


def development_secret_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / DEV_SECRET_FILE


def _development_secret(settings: Settings) -> str:
    if settings.environment == "production":
        raise SettingsError(
            "JWT_SECRET is not set: production needs a signing key"
            " (JWT_SECRET, or JWT_ALGORITHM=RS256/EdDSA with JWT_PUBLIC_KEY_FILE and JWT_PRIVATE_KEY_FILE)"
        )
    return generated_secret(development_secret_path(settings))


def generated_secret(path: Path) -> str:
    """The secret in `path`, generated there (mode 0600) by the first process that needs it."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: concurrent processes all end up with the first one's secret.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    try:
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()
    return path.read_text().strip()


def _read_pem(name: str, variable: str) -> str:
    try:
        return Path(name).read_text()
    except OSError as e:
        raise SettingsError(f"{variable}={name} cannot be read: {e.strerror}") from None
