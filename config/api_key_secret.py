"""The secret that keys API key digests (HMAC-SHA256), loaded in one place for the web processes.

Production refuses to run without `API_KEY_SECRET`; in development and test an unset one is generated
once into `DATA_DIR/api-key-secret` (mode 0600), which every process of the checkout shares. Changing
it makes every existing key unknown.
"""

import functools
from pathlib import Path

from config.jwt_keys import MIN_SECRET_BYTES, generated_secret
from config.settings import Settings, SettingsError

DEV_SECRET_FILE = "api-key-secret"  # noqa: S105 - a file name, not a secret


@functools.lru_cache(maxsize=8)
def load_api_key_secret(settings: Settings) -> bytes:
    """The key of API key digests; raises SettingsError naming the variable when it is missing or weak."""
    secret = settings.api_key_secret
    if not secret:
        if settings.environment == "production":
            raise SettingsError(
                "API_KEY_SECRET is not set: production needs the secret that API keys are hashed with"
                f" (at least {MIN_SECRET_BYTES} bytes)"
            )
        secret = generated_secret(Path(settings.data_dir) / DEV_SECRET_FILE)
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(f"API_KEY_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    return secret.encode()
