"""Who may call what. Bearer-token authentication lands in the next issue; this is where it plugs in."""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler


def operator_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The guard on every operator route (each is also marked `# operator-only`).

    OPEN until authentication lands: the next issue raises NotAuthorizedException (401) without a
    token and PermissionDeniedException (403) for a non-operator token here, closing them all at once.
    """
