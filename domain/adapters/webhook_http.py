"""Webhook POSTs over one pooled HTTP client per process, with the SSRF guard at every connection.

The guard resolves the host itself and connects to an address it has checked, so a name that resolves to a
public address when it is checked and to a private one when the connection is made (DNS rebinding) is still
refused. TLS is verified against the URL's host name. No redirect is followed: a 3xx is a failed attempt.
"""

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore

from domain.errors import InvalidRequestError
from domain.models.webhooks import SendResult
from domain.ports.webhooks import WebhookSender

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_S = 3.0
MAX_ANSWER_BYTES = 64 * 1024
# Not covered by `is_global` on every Python: NAT64 embeds any IPv4 address, 6to4 and Teredo do too.
_EMBEDDING = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("2002::/16"))


class TargetRefusedError(InvalidRequestError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"this URL may not receive webhooks: {reason}", field="url")


def refused_address(address: IpAddress) -> bool:
    """Loopback, private, link-local (the cloud metadata services), multicast, reserved or otherwise not global."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refused_address(address.ipv4_mapped)
        if any(address in net for net in _EMBEDDING):
            return True
    return not address.is_global or address.is_multicast


async def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address of `host`, once all of them are allowed (a name with one private address is refused)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses: Iterable[IpAddress] = [literal]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT_S
            )
        except (OSError, TimeoutError, ValueError):  # ValueError: not a name IDNA can encode
            raise TargetRefusedError(f"the host {host} does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    found = list(dict.fromkeys(addresses))
    if not found:
        raise TargetRefusedError(f"the host {host} has no address")
    if not allow_private and any(refused_address(a) for a in found):
        raise TargetRefusedError(f"the host {host} resolves to a loopback, private or reserved address")
    return [str(a) for a in found]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard allowed, resolved here rather than by the socket library."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = (await resolve(host, port, allow_private=self._allow_private))[0]
        return await self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefusedError("not a network address")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def retry_after_s(value: bytes | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0) if when.tzinfo else None


class HttpWebhookSender(WebhookSender):
    """One connection pool for the process; every attempt bounded by `timeout_s` from start to answer."""

    def __init__(self, *, timeout_s: float, https_only: bool, allow_private: bool, max_connections: int) -> None:
        self._timeout_s = timeout_s
        self._https_only = https_only
        self._allow_private = allow_private
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=_GuardedBackend(allow_private=allow_private),
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def check(self, url: str) -> None:
        host = self._check_form(url)
        await resolve(host, 443, allow_private=self._allow_private)

    def _check_form(self, url: str) -> str:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # an unclosed IPv6 bracket, say
            raise TargetRefusedError("it is not a valid URL") from None
        schemes = ("https",) if self._https_only else ("https", "http")
        if parts.scheme not in schemes or not host:
            raise TargetRefusedError("it must be an https URL" if self._https_only else "it must be an http(s) URL")
        if parts.username or parts.password:
            raise TargetRefusedError("it must not carry credentials")
        return host

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                self._check_form(url)  # the addresses are checked as each connection is made
                return await self._post(url, headers, body, start)
        except TargetRefusedError as e:
            return SendResult(status_code=None, latency_ms=_ms(start), error=e.detail)
        except TimeoutError:
            return SendResult(status_code=None, latency_ms=_ms(start), error=f"no answer within {self._timeout_s}s")
        except (
            httpcore.NetworkError,
            httpcore.TimeoutException,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
            OSError,
            ValueError,
        ) as e:
            return SendResult(status_code=None, latency_ms=_ms(start), error=f"{type(e).__name__}: {e}"[:500])

    async def _post(self, url: str, headers: dict[str, str], body: bytes, start: float) -> SendResult:
        sent = [*headers.items(), ("content-type", "application/json"), ("user-agent", "Folio-Webhooks/1")]
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), self._timeout_s)
        async with self._pool.stream(
            "POST", url, headers=sent, content=body, extensions={"timeout": timeouts}
        ) as response:
            # A small answer is read to its end, so that the connection goes back to the pool; past the cap
            # the connection is dropped instead (its status is all that counts).
            read = 0
            async for chunk in response.aiter_stream():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES:
                    break
            after = _header(response.headers, b"retry-after")
            return SendResult(status_code=response.status, latency_ms=_ms(start), retry_after_s=retry_after_s(after))


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
