"""pyarrow, an optional extra (``pip install "bpcli[arrow]"``): Parquet and Arrow IPC files, and faster CSV.

Parquet and Arrow files cannot be read or written without it, and say how to
get it; CSV is read and written without it too, only more slowly, and to the
same text.
"""

from __future__ import annotations

import struct
from typing import Any

from bpcli.engine.errors import BpcliError

INSTALL = 'pip install "bpcli[arrow]"'


def optional() -> Any | None:
    """The pyarrow module, or None where it is not installed (or cannot be imported)."""
    try:
        import pyarrow  # an optional extra, imported only for the files that use it (start-up)
    except ImportError:
        return None
    return pyarrow


def required(what: str) -> Any:
    """The pyarrow module, or the BpcliError that says ``what`` needs it and how to install it."""
    pyarrow = optional()
    if pyarrow is None:
        raise BpcliError(f"{what} needs pyarrow, which is not installed: {INSTALL}")
    return pyarrow


# ---- an Arrow IPC file's row counts, read before anything is unpacked -------------------------
#
# A record batch's body may be compressed (zstd, lz4): pyarrow unpacks a whole batch before it says
# how many rows it holds, so a few kilobytes could unpack to gigabytes. The row counts are in the
# file's own metadata (FlatBuffers: File.fbs, Message.fbs of the Arrow format), read here from the
# bytes with struct, each offset checked to lie inside the file: the footer's record-batch blocks
# (the ones pyarrow reads) and, in the message at each block, RecordBatch.length.

_MAGIC = b"ARROW1"
_BLOCK = struct.Struct("<qi4xq")  # Block: offset, metaDataLength, (padding), bodyLength
_FOOTER_BATCHES = 3  # Footer: version, schema, dictionaries, recordBatches
_MESSAGE_HEADER = 2  # Message: version, header_type, header
_BATCH_LENGTH = 0  # RecordBatch: length (the rows), nodes, buffers, compression


class _Truncated(Exception):
    """An offset or a length that points outside the file."""


def batch_rows(data: bytes) -> list[int]:
    """The rows of each record batch of the Arrow IPC file ``data``, from its footer; ValueError if the
    metadata cannot be read."""
    try:
        footer_size = _unpack("<i", data, len(data) - len(_MAGIC) - 4)[0]
        footer = len(data) - len(_MAGIC) - 4 - footer_size
        if not data.startswith(_MAGIC) or not data.endswith(_MAGIC) or footer_size <= 0 or footer < 8:
            raise _Truncated
        blocks = _vector(data, footer, _FOOTER_BATCHES, _BLOCK.size)
        return [_message_rows(data, _BLOCK.unpack_from(data, start)[0]) for start in blocks]
    except (_Truncated, struct.error):
        raise ValueError("its metadata (the footer and the record batches' headers) cannot be read") from None


def _message_rows(data: bytes, offset: int) -> int:
    """RecordBatch.length of the message at ``offset`` (after the 0xFFFFFFFF continuation and its length)."""
    continuation = _unpack("<I", data, offset)[0]
    start = offset + (8 if continuation == 0xFFFFFFFF else 4)  # (files before Arrow 0.15 had no continuation)
    header = _field(data, _table(data, start), _MESSAGE_HEADER)
    if header is None:
        raise _Truncated
    length = _field(data, header + _unpack("<I", data, header)[0], _BATCH_LENGTH)
    return 0 if length is None else int(_unpack("<q", data, length)[0])


def _table(data: bytes, start: int) -> int:
    """The root table of the FlatBuffer beginning at ``start``."""
    return start + int(_unpack("<I", data, start)[0])


def _field(data: bytes, table: int, field: int) -> int | None:
    """Where field number ``field`` of the table at ``table`` is stored; None where it is absent."""
    vtable = table - _unpack("<i", data, table)[0]
    size = _unpack("<H", data, vtable)[0]
    if 4 + 2 * field >= size:
        return None
    offset = _unpack("<H", data, vtable + 4 + 2 * field)[0]
    return None if offset == 0 else table + int(offset)


def _vector(data: bytes, footer: int, field: int, item: int) -> list[int]:
    """The starts of the items of the vector-of-structs field ``field`` of the root table at ``footer``."""
    where = _field(data, _table(data, footer), field)
    if where is None:
        return []
    vector = where + _unpack("<I", data, where)[0]
    count = _unpack("<I", data, vector)[0]
    if vector + 4 + count * item > len(data):
        raise _Truncated
    return [vector + 4 + i * item for i in range(count)]


def _unpack(layout: str, data: bytes, offset: int) -> tuple[Any, ...]:
    if not 0 <= offset <= len(data) - struct.calcsize(layout):
        raise _Truncated
    return struct.unpack_from(layout, data, offset)
