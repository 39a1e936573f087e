"""JSON encoding at the edge, once: decimals leave as exact JSON numbers."""

import re
from typing import Any, TypeVar

import msgspec
from litestar import Response
from litestar.serialization import default_serializer
from litestar.types import Serializer

_JSON = re.compile(r"^application/(?:.+\+)?json")

json_encoder = msgspec.json.Encoder(enc_hook=default_serializer, decimal_format="number")


T = TypeVar("T")


class FolioResponse(Response[T]):
    """Litestar's response with Folio's encoder: `Decimal` as a number, never a float round trip."""

    def render(self, content: Any, media_type: str, enc_hook: Serializer = default_serializer) -> bytes:
        if not isinstance(content, (bytes, str)) and _JSON.match(media_type):
            return json_encoder.encode(content)
        return super().render(content, media_type, enc_hook)
