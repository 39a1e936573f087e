import gzip

import brotli
import pytest
import zstandard

from gateway.content_coding import compress, compressor, negotiate, none_match, weaken


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("zstd", "zstd"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0.9, zstd;q=0.1, gzip;q=0.8", "br"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "zstd"),
        ("br;q=0, gzip;q=0", "identity"),
        ("gzip;q=0, identity", "identity"),
        ("identity;q=1, gzip;q=0.5", "identity"),
        ("deflate", "identity"),
        ("*;q=0", "identity"),  # nothing acceptable: identity anyway
        ("gzip;q=abc, br", "br"),  # a broken q-value rules that coding out
        ("gzip;q=2", "identity"),
        (" br ; q=0.3 ,gzip;q=0.2", "br"),
    ],
)
def test_negotiation_honours_q_values_and_prefers_the_smallest(header, expected):
    assert negotiate(header) == expected


def test_negotiation_chooses_only_among_available_codings():
    assert negotiate("zstd, gzip;q=0.5", ("br", "gzip", "identity")) == "gzip"
    assert negotiate("zstd", ("br", "gzip", "identity")) == "identity"


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"mdv7-abc"', True),
        ('W/"mdv7-abc"', True),
        ('"mdv7-abc.gzip"', True),
        ('"mdv7-abc.br"', True),
        ('"x", "mdv7-abc"', True),
        ('"x",W/"mdv7-abc.zstd"', True),
        ("*", True),
        (" * ", True),
        ('"mdv6-abc"', False),
        ('"mdv7-abcd"', False),
        ('"mdv7"', False),
        ("mdv7-abc", False),  # unquoted: not an entity tag
        ('"a,b", "c"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match_uses_weak_comparison_over_lists(header, matches):
    assert none_match(header, "mdv7-abc") is matches


def test_a_comma_inside_an_entity_tag_does_not_split_it():
    assert none_match('"x", "a,b"', "a,b")


def test_weaken():
    assert weaken('"x"') == 'W/"x"'
    assert weaken('W/"x"') == 'W/"x"'


BODY = b'{"quotes": [' + b'{"symbol": "AAPL", "price": 123.45000000},' * 2000 + b"{}]}"
DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda b: zstandard.ZstdDecompressor().decompress(b),
}


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_compressed_bodies_decode_to_the_original(coding):
    coded = compress(BODY, coding)
    assert len(coded) < len(BODY) / 10
    assert DECODE[coding](coded) == BODY
    assert compress(BODY, coding) == coded  # deterministic: equal bodies, equal bytes


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_streaming_compressor_decodes_to_the_concatenated_chunks(coding):
    stream = compressor(coding)
    data = b"".join([stream.compress(BODY[i : i + 4096]) for i in range(0, len(BODY), 4096)]) + stream.flush()
    zstd = zstandard.ZstdDecompressor().decompressobj()
    decoded = zstd.decompress(data) if coding == "zstd" else DECODE[coding](data)
    assert decoded == BODY


def test_identity_is_the_body_itself():
    assert compress(BODY, "identity") is BODY
