"""What the invalidation channel carries to every process: typed messages, each saying what to drop.

Holdings changed (a trade): drop the user's cached holdings. An API key revoked: refuse it from now on.
A user's sessions revoked: refuse every token of theirs issued before `not_before` (epoch seconds).
"""

import msgspec


class HoldingsChanged(msgspec.Struct, frozen=True, tag="holdings"):
    user_id: int


class ApiKeyRevoked(msgspec.Struct, frozen=True, tag="apikey"):
    key_id: str


class SessionsRevoked(msgspec.Struct, frozen=True, tag="sessions"):
    user_id: int
    not_before: float


Revocation = ApiKeyRevoked | SessionsRevoked
Invalidation = HoldingsChanged | ApiKeyRevoked | SessionsRevoked
