"""The web role's credentials: API keys and the revocation watch, both fed by the invalidation channel."""

import contextlib
import logging
from dataclasses import dataclass

from config.api_key_secret import load_api_key_secret
from config.wiring.background import run_in_background
from config.wiring.resources import Resources
from domain.adapters.postgres.credentials import PostgresApiKeyStore, PostgresRevocationStore
from domain.errors import UnavailableError
from domain.ports.holdings import InvalidationBus
from domain.services.api_keys import ApiKeyService
from domain.services.revocations import RevocationWatch

log = logging.getLogger("folio.wiring")


@dataclass(frozen=True, slots=True)
class Credentials:
    api_keys: ApiKeyService
    revocations: RevocationWatch


def open_credentials(resources: Resources, bus: InvalidationBus, stack: contextlib.AsyncExitStack) -> Credentials:
    """The key service and the revocation watch, with their background work: the fallback reads of
    revocations, and the batched `last_used_at` (written once more at shutdown, before the pool closes)."""
    settings = resources.settings
    revocations = RevocationWatch(PostgresRevocationStore(resources.pool), bus, max_users=settings.auth_cache_max)
    api_keys = ApiKeyService(
        PostgresApiKeyStore(resources.pool),
        revocations,
        resources.clock,
        pepper=load_api_key_secret(settings),
        max_per_user=settings.api_keys_per_user,
        usage_flush_s=settings.api_key_usage_flush_s,
    )
    run_in_background(stack, revocations.run(), "revocations")
    stack.push_async_callback(_last_flush, api_keys)
    run_in_background(stack, api_keys.run(), "api-key-usage")
    return Credentials(api_keys, revocations)


async def _last_flush(api_keys: ApiKeyService) -> None:
    try:
        await api_keys.flush()
    except UnavailableError:
        log.warning("the last uses of API keys were not recorded: the database did not answer")
