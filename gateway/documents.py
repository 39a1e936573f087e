"""Documents rendered from the quote snapshot: encoded once per version, compressed once per coding.

A request is a dictionary lookup. When the snapshot moves, the next document is built off the event
loop (render, hash, and every coding clients asked for of the version before) while requests keep getting
the previous one, which is complete and consistent with its own ETag. A coding nobody asked for in a whole
version is no longer compressed ahead: its next request compresses it once, off the loop, as a first does.
"""

import asyncio
import hashlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

from domain.models.quotes import QuoteSnapshot
from gateway.content_coding import DOCUMENT_LEVELS, PREFERENCE, Coding, compress, negotiate, none_match

log = logging.getLogger("folio.documents")

Render = Callable[[QuoteSnapshot], bytes]
# (snapshot version, digest of the identity body) -> the opaque part of the entity tag
MakeETag = Callable[[int, str], str]


class Document:
    """One identity body and its compressed forms; each coding is compressed at most once."""

    def __init__(self, identity: bytes, digest: str, opaque: str, bodies: dict[Coding, bytes]) -> None:
        self.digest = digest
        self.opaque = opaque
        # Each coding is its own representation, so each gets its own strong tag.
        self.etags: dict[Coding, str] = {c: f'"{opaque}"' if c == "identity" else f'"{opaque}.{c}"' for c in PREFERENCE}
        self.bodies: dict[Coding, bytes] = {**bodies, "identity": identity}
        self._pending: dict[Coding, asyncio.Task[bytes]] = {}
        self.asked: set[Coding] = set()  # the codings requested of this version: the next one compresses them ahead

    def ready(self, coding: Coding) -> bytes | None:
        return self.bodies.get(coding)

    async def body(self, coding: Coding) -> bytes:
        """The body in `coding`; concurrent first requests share one compression, off the loop."""
        body = self.bodies.get(coding)
        if body is not None:
            return body
        task = self._pending.get(coding)
        if task is None:
            task = asyncio.create_task(asyncio.to_thread(compress, self.bodies["identity"], coding, DOCUMENT_LEVELS))
            self._pending[coding] = task
            task.add_done_callback(partial(self._store, coding))
        return await asyncio.shield(task)

    def _store(self, coding: Coding, task: "asyncio.Task[bytes]") -> None:
        self._pending.pop(coding, None)
        if not task.cancelled() and task.exception() is None:
            self.bodies[coding] = task.result()


def _build(
    render: Render, make_etag: MakeETag, snapshot: QuoteSnapshot, previous: Document | None, ahead: tuple[Coding, ...]
) -> Document:
    """Runs in a worker thread: the snapshot is immutable, and `previous` is only read."""
    identity = render(snapshot)
    digest = hashlib.blake2b(identity, digest_size=12).hexdigest()
    if previous is not None and previous.digest == digest:
        return previous  # the same bytes (reference data that did not change): keep its compressed forms
    warm: dict[Coding, bytes] = {c: compress(identity, c, DOCUMENT_LEVELS) for c in ahead if c != "identity"}
    return Document(identity, digest, make_etag(snapshot.version, digest), warm)


class SnapshotDocument:
    """The newest document of one kind (market data, instruments), following the quote snapshot."""

    def __init__(self, render: Render, make_etag: MakeETag) -> None:
        self._render = render
        self._make_etag = make_etag
        self._doc: Document | None = None
        self._version = -1
        self._build: asyncio.Task[Document] | None = None
        self._build_version = -1

    async def get(self, snapshot: QuoteSnapshot, coding: Coding) -> tuple[Document, bytes]:
        doc = self._doc
        if doc is not None and self._version == snapshot.version:
            doc.asked.add(coding)
            body = doc.ready(coding)
            return doc, body if body is not None else await doc.body(coding)
        build = self._start_build(snapshot)
        if doc is not None and (body := doc.ready(coding)) is not None:
            doc.asked.add(coding)
            return doc, body
        doc = await asyncio.shield(build)
        doc.asked.add(coding)
        return doc, await doc.body(coding)

    async def settle(self, snapshot: QuoteSnapshot) -> Document:
        """Wait until the document of `snapshot` is the one served (after an ingest, for example)."""
        if self._doc is not None and self._version >= snapshot.version:
            return self._doc
        return await asyncio.shield(self._start_build(snapshot))

    def _start_build(self, snapshot: QuoteSnapshot) -> "asyncio.Task[Document]":
        if self._build is not None and self._build_version == snapshot.version:
            return self._build
        previous = self._doc
        ahead = tuple(previous.asked) if previous is not None else ()
        build = asyncio.create_task(
            asyncio.to_thread(_build, self._render, self._make_etag, snapshot, previous, ahead), name="render-document"
        )
        build.add_done_callback(partial(self._install, snapshot.version))
        self._build, self._build_version = build, snapshot.version
        return build

    def _install(self, version: int, build: "asyncio.Task[Document]") -> None:
        if self._build is build:
            self._build = None
        if build.cancelled() or build.exception() is not None:
            log.error("document for quote version %d not built", version, exc_info=build.exception())
            return
        if version >= self._version:
            self._doc, self._version = build.result(), version


async def document_response(
    request: Request[Any, Any, Any], documents: SnapshotDocument, snapshot: QuoteSnapshot, cache_control: str
) -> Response[bytes]:
    """The negotiated body with a strong ETag, or an empty 304 when If-None-Match names it."""
    coding = negotiate(request.headers.get("accept-encoding"))
    doc, body = await documents.get(snapshot, coding)
    headers = {"ETag": doc.etags[coding], "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if none_match(request.headers.get("if-none-match"), doc.opaque):
        return Response(b"", status_code=304, headers=headers)
    if coding != "identity":
        headers["Content-Encoding"] = coding
    return Response(body, media_type="application/json", headers=headers)


def document_responses(view: type, description: str) -> dict[int, ResponseSpec]:
    """The OpenAPI truth about a pre-encoded document route: `view`'s JSON (the handler returns bytes), or 304."""
    return {
        200: ResponseSpec(data_container=view, description=description, generate_examples=False),
        304: ResponseSpec(data_container=None, description="Not modified: the If-None-Match tag is current"),
    }
