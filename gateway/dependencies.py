"""How the gateway reaches the web services: handlers through app state, the ASGI layers through a handle.

Both are set once, by the lifespan, before the first request.
"""

from typing import Any

from litestar.datastructures import State

from config.wiring.web import WebServices


class ServicesHandle:
    """The web services for the ASGI layers in front of Litestar; `services` is None until startup."""

    __slots__ = ("services",)

    def __init__(self) -> None:
        self.services: WebServices | None = None


def services_of(state: State | Any) -> WebServices:
    services: WebServices = state.services
    return services
