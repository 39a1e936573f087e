"""Handlers reach the wired services through app state, set once by the lifespan."""

from typing import Any

from litestar.datastructures import State

from config.wiring import Services


def services_of(state: State | Any) -> Services:
    services: Services = state.services
    return services
