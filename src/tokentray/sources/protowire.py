"""A bounded reader of the protobuf wire format, for blobs that come without a schema.

Antigravity stores its per-request usage as protobuf messages whose ``.proto`` is not
published, so fields are addressed by number. The official ``protobuf`` runtime can only
do this by parsing into an empty message and walking its unknown fields, twice per
nesting level; this reader is forty lines and checks every length against the blob, so
a truncated or hostile blob raises ``ProtoError`` instead of reading past its end.
"""

from __future__ import annotations

from collections.abc import Iterator

Field = tuple[int, int | bytes]  # field number, varint value or length-delimited bytes

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10


class ProtoError(ValueError):
    """The blob is not well-formed protobuf."""


def fields(blob: bytes) -> Iterator[Field]:
    """The top-level fields of one message, in order (fixed-width values as integers)."""
    position = 0
    while position < len(blob):
        tag, position = _varint(blob, position)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == _VARINT:
            value, position = _varint(blob, position)
            yield number, value
        elif wire == _BYTES:
            length, position = _varint(blob, position)
            end = position + length
            if end > len(blob):
                raise ProtoError("a length runs past the end of the blob")
            yield number, blob[position:end]
            position = end
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if position + width > len(blob):
                raise ProtoError("a fixed-width value runs past the end of the blob")
            yield number, int.from_bytes(blob[position : position + width], "little")
            position += width
        else:
            raise ProtoError(f"unsupported wire type {wire}")


def first(blob: bytes, *path: int) -> int | bytes | None:
    """The first value at a path of field numbers (``first(b, 1, 4, 5)`` is f1.f4.f5)."""
    current: int | bytes = blob
    for number in path:
        if not isinstance(current, bytes):
            return None
        current_value = next((v for n, v in fields(current) if n == number), None)
        if current_value is None:
            return None
        current = current_value
    return current


def _varint(blob: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    for offset in range(_MAX_VARINT_BYTES):
        if position + offset >= len(blob):
            raise ProtoError("a varint runs past the end of the blob")
        byte = blob[position + offset]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position + offset + 1
        shift += 7
    raise ProtoError("a varint longer than 10 bytes")
