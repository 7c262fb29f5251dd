"""MindSpore's `.ckpt` byte format, written and read by hand (no protobuf dependency, no pickle).

A checkpoint is the protobuf (proto2) message

    message Checkpoint  { repeated Value value = 1; }
    message Value       { required string tag = 1; required TensorProto tensor = 2; }
    message TensorProto { repeated int64 dims = 1; required string tensor_type = 2;
                          required bytes tensor_content = 3; }

with tensor_content the raw little-endian C-order data. As MindSpore does, dims are written
unpacked (one varint field per dimension) and a 0-d tensor is written with dims [0]; the reader
also accepts packed dims and the empty dims of newer MindSpore versions, and joins consecutive
values with the same tag (MindSpore splits tensors over 512 MB into such slices).

Protobuf has no end marker: a file cut between two values parses as a shorter checkpoint. So graphc
frames what it writes. It ends the file with the trailer MindSpore's `crc_check=True` writes and
every MindSpore load strips, b"crc_num" and the CRC-32 of the bytes before it (10 bytes,
big-endian), and it opens the file with field 2047 = 1 (a field MindSpore's schema lacks, which
protobuf parsers skip), a promise that the trailer follows. A file that makes the promise and lacks
the trailer was cut short. A trailer's CRC is always checked. A foreign file without the promise
(MindSpore writes none) that is cut between two values cannot be told from a shorter checkpoint.
"""
from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Iterator

import ml_dtypes
import numpy as np

from graphc.atomic_file import atomic_write_bytes
from graphc.protowire import FIXED32, FIXED64, LENGTH, VARINT, Writer

# MindSpore's tensor_type strings (str(mindspore dtype)) and the numpy types they hold.
TENSOR_TYPES = {
    "Bool": np.bool_,
    "Int8": np.int8, "Int16": np.int16, "Int32": np.int32, "Int64": np.int64,
    "UInt8": np.uint8, "UInt16": np.uint16, "UInt32": np.uint32, "UInt64": np.uint64,
    "Float16": np.float16, "Float32": np.float32, "Float64": np.float64,
    "BFloat16": ml_dtypes.bfloat16,          # raw little-endian bits, as MindSpore 2.10 stores them
}
_TYPE_NAMES = {np.dtype(t): name for name, t in TENSOR_TYPES.items()}

Entries = list[tuple[str, np.ndarray]]
_TRAILER_TAG, _CRC_BYTES = b"crc_num", 10


class CheckpointFormatError(ValueError):
    """Checkpoint bytes that do not follow the format."""

    def __init__(self, source: str, offset: int, problem: str):
        self.offset = offset
        super().__init__(f"{source}: byte {offset}: {problem}; the checkpoint is truncated or corrupt "
                         f"(write it again, or load another one)")


# ---------------------------------------------------------------------------------------------
# encoding

def encode_checkpoint(entries: Entries) -> bytes:
    """The checkpoint bytes for (name, array) pairs, in order, between the promise and the trailer."""
    records = Writer()
    for name, array in entries:
        records.message(1, _encode_value(name, np.asarray(array)))
    body = _PROMISE + records.getvalue()
    return body + _TRAILER_TAG + zlib.crc32(body).to_bytes(_CRC_BYTES, "big")


def _encode_value(name: str, array: np.ndarray) -> Writer:
    type_name = _TYPE_NAMES.get(array.dtype.newbyteorder("="))
    if type_name is None:
        raise TypeError(f"checkpoint entry {name!r}: dtype {array.dtype} has no MindSpore tensor type; "
                        f"cast it to one of {', '.join(str(np.dtype(t)) for t in TENSOR_TYPES.values())}")
    tensor = Writer()
    for d in array.shape or (0,):
        tensor.varint(1, d)
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return Writer().string(1, name).message(2, tensor.string(2, type_name).bytes(3, content))


_PROMISE = Writer().varint(2047, 1).getvalue()    # "this file ends with the crc_num trailer"


# ---------------------------------------------------------------------------------------------
# decoding

def decode_checkpoint(data: bytes, source: str = "<checkpoint bytes>") -> Entries:
    """The (name, array) pairs stored in checkpoint bytes; `source` names them in errors."""
    reader = _Reader(memoryview(data), source)
    slices: list[tuple[str, list[bytes], int, tuple[int, ...], str]] = []
    for number, wire_type, start, end in reader.fields(0, _body_end(data, source)):
        if number != 1:
            continue
        reader.require_bytes(number, wire_type, start)
        name, dims, type_name, content = _decode_value(reader, start, end)
        if slices and slices[-1][0] == name:
            slices[-1][1].append(content)
        else:
            slices.append((name, [content], start, dims, type_name))
    return [(name, _to_array(reader, b"".join(parts), offset, dims, type_name))
            for name, parts, offset, dims, type_name in slices]


def _body_end(data: bytes, source: str) -> int:
    """Where the protobuf message ends: before the crc_num trailer, whose CRC is checked, if there is one."""
    if not data:
        raise CheckpointFormatError(source, 0, "the file is empty")
    end = len(data) - len(_TRAILER_TAG) - _CRC_BYTES
    if end < 0 or data[end:end + len(_TRAILER_TAG)] != _TRAILER_TAG:
        if data.startswith(_PROMISE):
            raise CheckpointFormatError(source, len(data), "the crc_num trailer that graphc ends its checkpoints "
                                                           "with is missing")
        return len(data)
    recorded, actual = int.from_bytes(data[-_CRC_BYTES:], "big"), zlib.crc32(memoryview(data)[:end])
    if actual != recorded:
        raise CheckpointFormatError(source, end, f"the CRC-32 of the bytes before the crc_num trailer is {actual}, "
                                                 f"the trailer says {recorded}")
    return end


def _decode_value(reader: _Reader, start: int, end: int) -> tuple[str, tuple[int, ...], str, bytes]:
    name = tensor = None
    for number, wire_type, field_start, field_end in reader.fields(start, end):
        if number in (1, 2):
            reader.require_bytes(number, wire_type, field_start)
        if number == 1:
            name = reader.text(field_start, field_end)
        elif number == 2:
            tensor = (field_start, field_end)
    if name is None or tensor is None:
        raise CheckpointFormatError(reader.source, start, f"value without {'a tag' if name is None else 'a tensor'}")
    dims: list[int] = []
    type_name = content = None
    for number, wire_type, field_start, field_end in reader.fields(*tensor):
        if number in (2, 3):
            reader.require_bytes(number, wire_type, field_start)
        if number == 1:
            dims.extend(reader.varints(field_start, field_end) if wire_type == LENGTH else [field_start])
        elif number == 2:
            type_name = reader.text(field_start, field_end)
        elif number == 3:
            content = bytes(reader.data[field_start:field_end])
    if type_name is None or content is None:
        missing = "tensor_type" if type_name is None else "tensor_content"
        raise CheckpointFormatError(reader.source, tensor[0], f"tensor {name!r} has no {missing}")
    return name, tuple(dims), type_name, content


def _to_array(reader: _Reader, content: bytes, offset: int, dims: tuple[int, ...], type_name: str) -> np.ndarray:
    if type_name not in TENSOR_TYPES:
        raise CheckpointFormatError(reader.source, offset, f"unknown tensor_type {type_name!r} "
                                                           f"(known: {', '.join(TENSOR_TYPES)})")
    dtype = np.dtype(TENSOR_TYPES[type_name]).newbyteorder("<")
    if any(d < 0 for d in dims):
        raise CheckpointFormatError(reader.source, offset, f"negative dimension in {list(dims)}")
    count = len(content) // dtype.itemsize
    # dims [0] holding one element is how MindSpore writes a 0-d tensor
    shape = () if dims in ((), (0,)) and count == 1 else dims
    needed = math.prod(shape) * dtype.itemsize      # exact integers: np.prod would wrap around at 2**63
    if len(content) != needed:
        raise CheckpointFormatError(reader.source, offset, f"shape {list(dims)} of {type_name} needs "
                                                           f"{needed} bytes, "
                                                           f"tensor_content has {len(content)}")
    return np.frombuffer(content, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


class _Reader:
    """Protobuf wire-format reading over a buffer, with errors that give the byte offset."""

    def __init__(self, data: memoryview, source: str):
        self.data = data
        self.source = source

    def fields(self, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """(field number, wire type, a, b) for each field in data[start:end]: for length-delimited
        fields the payload is data[a:b]; for varints a is the value."""
        pos = start
        while pos < end:
            key, pos = self.varint(pos, end)
            number, wire_type = key >> 3, key & 7
            if wire_type == VARINT:
                value, pos = self.varint(pos, end)
                yield number, wire_type, value, pos
            elif wire_type == LENGTH:
                length, payload_start = self.varint(pos, end)
                pos = payload_start + length
                if pos > end:
                    raise CheckpointFormatError(self.source, payload_start, f"field {number} claims {length} "
                                                                            f"bytes, only {end - payload_start} remain")
                yield number, wire_type, payload_start, pos
            elif wire_type in (FIXED64, FIXED32):
                pos += 8 if wire_type == FIXED64 else 4  # a field of a newer schema: skipped
                if pos > end:
                    raise CheckpointFormatError(self.source, end, f"field {number} runs past the end")
            else:
                raise CheckpointFormatError(self.source, pos, f"unsupported wire type {wire_type} in field {number}")

    def require_bytes(self, number: int, wire_type: int, offset: int) -> None:
        if wire_type != LENGTH:
            raise CheckpointFormatError(self.source, offset, f"field {number} has wire type {wire_type}, "
                                                             f"expected {LENGTH} (length-delimited)")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        start, value, shift = pos, 0, 0
        while True:
            if pos >= end or shift > 63:
                raise CheckpointFormatError(self.source, start, "truncated or overlong varint")
            byte = self.data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            shift += 7
            if byte < 0x80:
                # int64 is two's complement over 64 bits
                return (value - (1 << 64) if value >= 1 << 63 else value), pos

    def varints(self, start: int, end: int) -> list[int]:
        values, pos = [], start
        while pos < end:
            value, pos = self.varint(pos, end)
            values.append(value)
        return values

    def text(self, start: int, end: int) -> str:
        try:
            return bytes(self.data[start:end]).decode()
        except UnicodeDecodeError:
            raise CheckpointFormatError(self.source, start, "string field is not UTF-8") from None


# ---------------------------------------------------------------------------------------------
# files

def write_checkpoint(path: str | Path, entries: Entries) -> None:
    """Write entries to `path` atomically: readers see the old file or the whole new one."""
    atomic_write_bytes(path, encode_checkpoint(entries))  # encoded first: a bad entry must not touch the file


def read_checkpoint(path: str | Path) -> Entries:
    return decode_checkpoint(Path(path).read_bytes(), source=str(path))
