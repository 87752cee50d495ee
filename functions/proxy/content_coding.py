"""A request body sent compressed (`Content-Encoding`), read for the record.

Anthropic's API takes compressed request bodies, and a client may send one to save upload time (a
Claude Code request runs to hundreds of KB). The proxy forwards the body byte for byte with its
`Content-Encoding` (functions/proxy/forwarding.py), so what Anthropic receives is what the client
sent; only the copy the record keeps is decoded here, off the event loop, after the reply.

Codings are undone in the reverse of the order listed. A body this cannot read (a coding it does not
know, such as `br`, corrupt data, or more than `MAX_DECODED_BYTES` once decoded) is not recorded:
the call is, with its size on the wire.
"""

from __future__ import annotations

import zlib

import zstandard

from shared.hosting import LAMBDA_REQUEST_PAYLOAD_BYTES

# No larger than an uncompressed request can be (Lambda's payload limit): the proxy's memory size is
# set by the largest call it was measured with (docs/benchmarks.md), and the cap also stops a small
# body that inflates without end (a decompression bomb).
MAX_DECODED_BYTES = LAMBDA_REQUEST_PAYLOAD_BYTES

_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS  # zlib detects either header
_RAW_DEFLATE = -zlib.MAX_WBITS


class Unreadable(ValueError):
    """The body's coding is unknown, its data corrupt, or it decodes past the cap."""


def codings(header: bytes | None) -> list[str]:
    """The codings a `Content-Encoding` value lists, in the order they were applied; identity dropped."""
    if not header:
        return []
    listed = (part.strip().lower() for part in header.decode("latin-1").split(","))
    return [coding for coding in listed if coding and coding != "identity"]


def decode(body: bytes, applied: list[str], limit: int = MAX_DECODED_BYTES) -> bytes:
    """`body` with `applied` undone, last first. Raises Unreadable."""
    for coding in reversed(applied):
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, _GZIP_OR_ZLIB, limit)
        elif coding == "deflate":
            # RFC 9110's deflate is zlib-wrapped; some clients send raw deflate under that name.
            try:
                body = _inflate(body, _GZIP_OR_ZLIB, limit)
            except Unreadable:
                body = _inflate(body, _RAW_DEFLATE, limit)
        elif coding == "zstd":
            body = _unzstd(body, limit)
        else:
            raise Unreadable(f"unknown content coding {coding!r}")
    return body


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    rest = body
    while True:  # a gzip body may hold several members, one after another
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise Unreadable(str(error)) from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise Unreadable("decodes past the limit")
        if not inflater.eof:
            raise Unreadable("truncated")
        rest = inflater.unused_data
        if not rest or wbits == _RAW_DEFLATE:
            return bytes(out)


# zstd inflates a few bytes to 128 KB blocks, so its input goes in small pieces: the output of one
# piece stays within a few MB however the data was made.
_ZSTD_PIECE = 128


def _unzstd(body: bytes, limit: int) -> bytes:
    out = bytearray()
    decoder = zstandard.ZstdDecompressor().decompressobj()
    view = memoryview(body)
    try:
        for at in range(0, len(body), _ZSTD_PIECE):
            out += decoder.decompress(view[at : at + _ZSTD_PIECE])
            if len(out) > limit:
                raise Unreadable("decodes past the limit")
            if decoder.eof:
                break
    except zstandard.ZstdError as error:
        raise Unreadable(str(error)) from None
    if not decoder.eof:
        raise Unreadable("truncated")
    return bytes(out)
