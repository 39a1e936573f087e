"""One subscription per process to the invalidation channel, handing each message to every consumer.

The portfolio cache drops a user's holdings; the revocation watch refuses revoked credentials. Each
consumer ignores the messages that are not its concern, and each hears when delivery had a gap.
"""

from collections.abc import Sequence
from typing import Protocol

from domain.models.invalidations import Invalidation
from domain.ports.holdings import InvalidationBus


class InvalidationConsumer(Protocol):
    def apply(self, message: Invalidation) -> None:
        """Act on one message (any kind: ignore the others); must not block."""

    def lost(self) -> None:
        """Messages may have been missed: stop relying on what they would have changed."""


async def listen_for_invalidations(bus: InvalidationBus, consumers: Sequence[InvalidationConsumer]) -> None:
    """Run the process's subscription until cancelled (web processes run this in the background)."""

    def deliver(message: Invalidation) -> None:
        for consumer in consumers:
            consumer.apply(message)

    def lost() -> None:
        for consumer in consumers:
            consumer.lost()

    await bus.listen(deliver, lost)
