import asyncio
import gzip
import random
import threading

import brotli
import zstandard

from domain.models.quotes import QuoteSnapshot, build_snapshot
from gateway.content_coding import BODY_LEVELS, DOCUMENT_LEVELS, Coding, compress
from gateway.documents import SnapshotDocument

DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda b: zstandard.ZstdDecompressor().decompress(b),
}


class CountingRender:
    def __init__(self, same_body: bool = False) -> None:
        self.calls = 0
        self.same_body = same_body
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, snapshot: QuoteSnapshot) -> bytes:
        self.gate.wait(5)
        self.calls += 1
        version = 0 if self.same_body else snapshot.version
        return b'{"version": %d, "pad": "%s"}' % (version, b"x" * 5000)


def snap(version: int) -> QuoteSnapshot:
    return build_snapshot(version, {}, {}, "USD")


def etag(version: int, digest: str) -> str:
    return f"v{version}-{digest[:6]}"


async def test_concurrent_first_requests_render_and_compress_once():
    render = CountingRender()
    doc = SnapshotDocument(render, etag)
    results = await asyncio.gather(*(doc.get(snap(1), "br") for _ in range(50)))
    assert render.calls == 1
    assert len({id(d) for d, _ in results}) == 1
    assert len({id(body) for _, body in results}) == 1  # one compressed body shared by all
    assert results[0][0].etags["br"] == f'"{results[0][0].opaque}.br"'


async def test_a_new_version_is_built_while_the_previous_one_is_served():
    render = CountingRender()
    doc = SnapshotDocument(render, etag)
    first, _ = await doc.get(snap(1), "gzip")
    render.gate.clear()  # hold the next render in its thread
    served, _ = await doc.get(snap(2), "gzip")
    assert served is first  # no wait: the complete previous version
    render.gate.set()
    newest = await doc.settle(snap(2))
    assert newest.opaque.startswith("v2-")
    assert "gzip" in newest.bodies  # the coding clients asked for was compressed with it
    again, _ = await doc.get(snap(2), "gzip")
    assert again is newest


async def test_unchanged_bodies_keep_their_tag_and_compressed_forms():
    render = CountingRender(same_body=True)
    doc = SnapshotDocument(render, lambda _v, digest: f"ref-{digest}")
    first, br = await doc.get(snap(1), "br")
    second = await doc.settle(snap(2))
    assert second is first
    assert (await doc.get(snap(2), "br"))[1] is br


def quotes_render(snapshot: QuoteSnapshot) -> bytes:
    """Market-data-like JSON that moves with the version: enough text for levels to differ."""
    rng = random.Random(snapshot.version)
    rows = []
    for i in range(3000):
        price, cents, volume = rng.randrange(10, 5000), rng.randrange(100), rng.randrange(10**6)
        rows.append(
            f'{{"symbol":"S{i:04d}","price":{price}.{cents:02d},"bid":{price - 1}.{cents:02d},"volume":{volume}}}'
        )
    return f'{{"version":{snapshot.version},"quotes":[{",".join(rows)}]}}'.encode()


async def test_every_coding_of_a_new_version_is_compressed_at_the_document_levels():
    doc = SnapshotDocument(quotes_render, etag)
    codings: tuple[Coding, ...] = ("br", "zstd", "gzip")
    for coding in codings:
        await doc.get(snap(1), coding)
    newest = await doc.settle(snap(2))  # the build compressed every coding clients asked for
    identity = newest.bodies["identity"]
    for coding in codings:
        served = (await doc.get(snap(2), coding))[1]
        assert served is newest.bodies[coding]
        assert DECODE[coding](served) == identity
        assert served == compress(identity, coding, DOCUMENT_LEVELS)
    # br and zstd are stronger than the per-body levels, and it shows on this body
    assert len(newest.bodies["br"]) < len(compress(identity, "br", BODY_LEVELS))
    assert len(newest.bodies["zstd"]) < len(compress(identity, "zstd", BODY_LEVELS))


async def test_a_coding_first_asked_for_on_a_new_version_is_compressed_at_the_document_level():
    doc = SnapshotDocument(quotes_render, etag)
    await doc.get(snap(1), "gzip")
    newest, body = await doc.get(snap(2), "zstd")  # not warm: compressed on first request, off the loop
    assert newest.opaque.startswith("v2-")
    assert body == compress(newest.bodies["identity"], "zstd", DOCUMENT_LEVELS)


async def test_a_coding_nobody_asked_for_in_a_whole_version_is_not_compressed_ahead_again():
    doc = SnapshotDocument(quotes_render, etag)
    await doc.get(snap(1), "br")
    await doc.get(snap(1), "gzip")
    second = await doc.settle(snap(2))
    assert {"br", "gzip"} <= second.bodies.keys()  # both were asked for of version 1
    await doc.get(snap(2), "gzip")  # only gzip is asked for of version 2
    third = await doc.settle(snap(3))
    assert "gzip" in third.bodies
    assert "br" not in third.bodies
    newest, body = await doc.get(snap(3), "br")  # asked again: compressed then, once
    assert newest is third
    assert body == compress(third.bodies["identity"], "br", DOCUMENT_LEVELS)
    assert (await doc.get(snap(3), "br"))[1] is body
