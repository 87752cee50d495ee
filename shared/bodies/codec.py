"""The stored form of a call's bodies: one object holding both, each a zstd frame.

A Claude Code request repeats its session's previous request almost byte for byte (the whole
conversation so far, with the system prompt and tools in front). So a call of a session is
compressed against a *base*: a recent request of the same session, stored once, used as a zstd
raw-content dictionary. The frame then holds little more than what is new since the base, and a
read needs two objects at most (the call's and its base), never a chain of earlier calls. Chosen
over content-defined chunking by measurement (bench/bodies.py): see docs/data-model.md.

Layout: `CCB1`; the base's key (u16 length, then UTF-8; empty without a base); the request
frame's and the response frame's lengths (big-endian u32, `ABSENT` for a body not kept); the frames.
The object names its own base, so a redelivered message that picks another base rewrites the
object consistently.
"""

from __future__ import annotations

import struct
from typing import Final

import zstandard

MAGIC: Final = b"CCB1"
ABSENT: Final = 0xFFFFFFFF
_MAGIC_AND_BASE = struct.Struct(">4sH")
_LENGTHS = struct.Struct(">II")
# Level 3 (zstd's default): about 1 ms a 100 KB body here; higher levels cost more than they save.
LEVEL: Final = 3


class CorruptBodies(ValueError):
    """An object that is not in this layout."""


def _dictionary(base: bytes | None) -> zstandard.ZstdCompressionDict | None:
    if base is None:
        return None
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def compress(body: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=LEVEL).compress(body)


def decompress(frame: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(frame)


def pack(
    request: bytes | None, response: bytes | None, base_key: str | None = None, base: bytes | None = None
) -> bytes:
    """The object for a call's bodies, compressed against `base` (stored at `base_key`) when given."""
    dictionary = _dictionary(base)
    compressor = (
        zstandard.ZstdCompressor(level=LEVEL, dict_data=dictionary)
        if dictionary is not None
        else zstandard.ZstdCompressor(level=LEVEL)
    )
    bodies = (request, response)
    frames = [b"" if body is None else compressor.compress(body) for body in bodies]
    lengths = [ABSENT if body is None else len(frame) for body, frame in zip(bodies, frames, strict=True)]
    named = (base_key or "").encode()
    return _MAGIC_AND_BASE.pack(MAGIC, len(named)) + named + _LENGTHS.pack(*lengths) + b"".join(frames)


def base_of(blob: bytes) -> str | None:
    """The key of the base an object was compressed against; None when it stands alone."""
    if len(blob) < _MAGIC_AND_BASE.size:
        raise CorruptBodies("too short")
    magic, length = _MAGIC_AND_BASE.unpack_from(blob)
    if magic != MAGIC:
        raise CorruptBodies("not a bodies object")
    return blob[_MAGIC_AND_BASE.size : _MAGIC_AND_BASE.size + length].decode() or None


def unpack(blob: bytes, base: bytes | None = None) -> tuple[bytes | None, bytes | None]:
    """The request and response bodies of an object made by `pack`, given the base it names."""
    named = base_of(blob)
    if (named is None) != (base is None):
        raise CorruptBodies("base expected" if named else "no base expected")
    offset = _MAGIC_AND_BASE.size + len((named or "").encode())
    lengths = _LENGTHS.unpack_from(blob, offset)
    offset += _LENGTHS.size
    dictionary = _dictionary(base)
    decompressor = (
        zstandard.ZstdDecompressor(dict_data=dictionary)
        if dictionary is not None
        else zstandard.ZstdDecompressor()
    )
    bodies: list[bytes | None] = []
    for length in lengths:
        if length == ABSENT:
            bodies.append(None)
            continue
        bodies.append(decompressor.decompress(blob[offset : offset + length]))
        offset += length
    return bodies[0], bodies[1]
