"""The web's adapters of the shared parts (Valkey, the broker), built as `config.wiring.web` builds them, for
`python -m bench.shared_parts`: the bench measures the product's own operations, and only the composition root
may build adapters."""

from dataclasses import dataclass

from config.wiring.reports import report_queue
from config.wiring.resources import Resources
from domain.adapters.breaker import CircuitBreaker
from domain.adapters.valkey_bus import ValkeyInvalidationBus
from domain.adapters.valkey_cache import ValkeyHoldingsCache
from domain.adapters.valkey_rate_limit import ValkeyRateLimitStore
from domain.ports.holdings import HoldingsCache, InvalidationBus
from domain.ports.rate_limits import RateLimitStore
from domain.ports.reports import ReportQueue


@dataclass(frozen=True, slots=True)
class SharedParts:
    cache: HoldingsCache  # the holdings cache on Valkey (its scripts)
    rate_limits: RateLimitStore  # the rate limiter's window counters on Valkey (its script)
    bus: InvalidationBus  # the invalidation channel
    reports: ReportQueue  # the report enqueue: RabbitMQ with BROKER_URL=amqp://, else the Valkey broker


def shared_parts(resources: Resources) -> SharedParts:
    settings = resources.settings

    def breaker(name: str) -> CircuitBreaker:
        return CircuitBreaker(
            name,
            failures=settings.cache_breaker_failures,
            reset_s=settings.cache_breaker_reset_s,
            metrics=resources.metrics,
        )

    return SharedParts(
        cache=ValkeyHoldingsCache(
            resources.valkey,
            breaker("cache"),
            ttl_s=settings.redis_cache_ttl,
            fill_wait_s=settings.cache_fill_wait_ms / 1000,
        ),
        rate_limits=ValkeyRateLimitStore(resources.valkey, breaker("rate-limit store")),
        bus=ValkeyInvalidationBus(
            resources.pubsub,
            heartbeat_s=settings.invalidation_heartbeat_ms / 1000,
            ack_timeout_s=settings.invalidation_ack_timeout_ms / 1000,
        ),
        reports=report_queue(resources),
    )
