"""The console's files, read once from this package and served by name: no build step, no CDN.

Each asset's URL carries its content digest (`/console/assets/<digest>/console.js`), so the page may be
cached for a year without going stale; the page itself is revalidated on every load (`no-cache`) and
names the current digests.
"""

import functools
import hashlib
from pathlib import Path

import msgspec

STATIC = Path(__file__).parent / "static"
ASSET_TYPES = {
    "console.js": "text/javascript; charset=utf-8",
    "queue.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
ASSETS_PATH = "/console/assets"


class Asset(msgspec.Struct, frozen=True):
    body: bytes
    media_type: str
    digest: str


@functools.cache
def assets() -> dict[str, Asset]:
    found = {}
    for name, media_type in ASSET_TYPES.items():
        body = (STATIC / name).read_bytes()
        found[name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])
    return found


@functools.cache
def page() -> bytes:
    """The page, naming each asset by its digest."""
    html = (STATIC / "index.html").read_text()
    for name, asset in assets().items():
        html = html.replace(f"{{{{{name}}}}}", f"{ASSETS_PATH}/{asset.digest}/{name}")
    return html.encode()
