"""HTTP content codings: Accept-Encoding negotiation (RFC 9110 §12.5.3), If-None-Match, compressors."""

import functools
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

import brotli
import zstandard

Coding = Literal["br", "zstd", "gzip", "identity"]
# Server preference among codings the client rates equally: smallest first.
PREFERENCE: tuple[Coding, ...] = ("br", "zstd", "gzip", "identity")

# Small bodies compressed once and kept, on the loop (a portfolio per user and quote version).
GZIP_LEVEL = 6
BROTLI_QUALITY = 6
ZSTD_LEVEL = 9
BODY_LEVELS: Mapping[str, int] = {"gzip": GZIP_LEVEL, "br": BROTLI_QUALITY, "zstd": ZSTD_LEVEL}
# Documents are compressed once per version per coding, off the loop (`make bench` reports both
# figures). On the 1.8 MB market data once the simulator has moved every price, in % of identity and
# CPU per version on one core: gzip 6 17.9% ~40 ms; brotli 7 14.3% ~55 ms (q6 14.6% ~45 ms, q8 14.2%
# ~70 ms, q10 over a second); zstd 10 14.4% ~60 ms (9: 14.7% ~45 ms, 11: 14.2% ~90 ms, 13: 14.0%
# ~200 ms). Larger windows (lgwin 24, zstd long mode) gain nothing: the whole body fits the default.
DOCUMENT_LEVELS: Mapping[str, int] = {"gzip": 6, "br": 7, "zstd": 10}
# Streamed responses are compressed per request, on the loop: lighter levels.
STREAM_LEVELS = {"gzip": 5, "br": 4, "zstd": 3}

_ALIASES = {"x-gzip": "gzip"}
_IDENTITY_Q = 0.0001
_ETAG = re.compile(r'(?:W/)?"([^"]*)"')


@functools.lru_cache(maxsize=512)
def negotiate(accept_encoding: str | None, available: tuple[Coding, ...] = PREFERENCE) -> Coding:
    """The coding to send: the client's highest q-value among `available`, ties to the server's order.

    No header means identity (any coding is allowed, but old clients break on surprises). When nothing
    acceptable is available, identity is sent anyway, as RFC 9110 allows.
    """
    if accept_encoding is None:
        return "identity"
    ranks = _parse(accept_encoding)
    star = ranks.get("*")
    best: Coding = "identity"
    best_q = 0.0
    for coding in available:
        q = ranks.get(coding)
        if q is None:
            # identity is acceptable unless excluded by name or by `*;q=0`, but any coding the client
            # names with a q-value above zero is preferred to it.
            q = star if star is not None else (_IDENTITY_Q if coding == "identity" else 0.0)
        if q > best_q:
            best, best_q = coding, q
    return best


def _parse(header: str) -> dict[str, float]:
    ranks: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        coding = name.strip().lower()
        if not coding:
            continue
        ranks[_ALIASES.get(coding, coding)] = _qvalue(params)
    return ranks


def _qvalue(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def none_match(if_none_match: str | None, opaque: str) -> bool:
    """True when If-None-Match is `*` or names the representation `opaque` in any coding.

    Weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`. Coded forms are tagged `"x.gzip"`,
    and a client holding any of them has the current content, so each of them matches too.
    """
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    for match in _ETAG.finditer(if_none_match):
        tag = match.group(1)
        if tag == opaque or tag.rpartition(".")[0] == opaque:
            return True
    return False


def weaken(etag: str) -> str:
    """The weak form of an entity tag (for a representation recoded by a middleware)."""
    return etag if etag.startswith("W/") else f"W/{etag}"


def compress(body: bytes, coding: Coding, levels: Mapping[str, int] = BODY_LEVELS) -> bytes:
    """The whole body in `coding` at `levels[coding]` (identity returns it unchanged)."""
    if coding == "identity":
        return body
    level = levels[coding]
    if coding == "zstd":
        # One shot: the frame header then carries the content size, which some decoders require.
        out: bytes = zstandard.ZstdCompressor(level=level).compress(body)
        return out
    if coding == "br":
        coded: bytes = brotli.compress(body, mode=brotli.MODE_TEXT, quality=level)
        return coded
    gz = zlib.compressobj(level, zlib.DEFLATED, 31)
    return gz.compress(body) + gz.flush()


class Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Brotli:
    def __init__(self) -> None:
        self._c = brotli.Compressor(mode=brotli.MODE_TEXT, quality=STREAM_LEVELS["br"])

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._c.process(data)
        return out

    def flush(self) -> bytes:
        out: bytes = self._c.finish()
        return out


class _Zstd:
    def __init__(self) -> None:
        self._c = zstandard.ZstdCompressor(level=STREAM_LEVELS["zstd"]).compressobj()

    def compress(self, data: bytes) -> bytes:
        out: bytes = self._c.compress(data)
        return out

    def flush(self) -> bytes:
        out: bytes = self._c.flush()
        return out


def _gzip() -> Compressor:
    # wbits 31: the gzip container, with a zero mtime so equal bodies compress to equal bytes.
    return zlib.compressobj(STREAM_LEVELS["gzip"], zlib.DEFLATED, 31)


_FACTORIES: dict[str, Callable[[], Compressor]] = {"gzip": _gzip, "br": _Brotli, "zstd": _Zstd}


def compressor(coding: Coding) -> Compressor:
    """A streaming compressor at the per-request levels: `compress` each chunk, then `flush` once."""
    return _FACTORIES[coding]()
