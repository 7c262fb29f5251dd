"""Protocol Buffers' wire format, by hand: graphc reads and writes MindIR without the protobuf package.

`Writer` appends fields (varint, length-delimited, fixed32/64) in the order they are written.
`Message` parses one message's fields eagerly and bounds-checks every length against the bytes it
has, so a truncated or corrupt file raises `WireError` naming the file and the byte offset instead
of reading past the end; nested messages keep their absolute offsets, so the offset is the file's.
Nothing is interpreted beyond the wire types: the schema (field numbers, meanings) is the caller's.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import GraphcError

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(GraphcError):
    """Bytes that are not a well-formed protobuf message."""


class Writer:
    def __init__(self):
        self._parts: list[bytes] = []

    def varint(self, number: int, value: int) -> "Writer":
        self._parts += [_key(number, VARINT), _varint(value)]
        return self

    def bytes(self, number: int, value: bytes) -> "Writer":
        self._parts += [_key(number, LENGTH), _varint(len(value)), bytes(value)]
        return self

    def string(self, number: int, value: str) -> "Writer":
        return self.bytes(number, value.encode())

    def message(self, number: int, value: "Writer") -> "Writer":
        return self.bytes(number, value.getvalue())

    def float(self, number: int, value: float) -> "Writer":
        self._parts += [_key(number, FIXED32), struct.pack("<f", value)]
        return self

    def double(self, number: int, value: float) -> "Writer":
        self._parts += [_key(number, FIXED64), struct.pack("<d", value)]
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1          # a negative int64 is written as its 64-bit two's complement
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@dataclass(frozen=True)
class Field:
    number: int
    wire: int
    value: int | bytes
    offset: int            # absolute offset of the value in the file


class Message:
    """One parsed message; `source` names the file in errors."""

    def __init__(self, data: bytes | memoryview, source: str, base: int = 0):
        self.source, self.base = source, base
        self.fields: list[Field] = []
        view, pos = memoryview(data), 0
        while pos < len(view):
            key, pos = self._varint(view, pos)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise self._error(pos, "field number 0")
            start = pos
            if wire == VARINT:
                value, pos = self._varint(view, pos)
            elif wire in (FIXED64, FIXED32):
                pos = self._take(view, pos, 8 if wire == FIXED64 else 4)
                value = bytes(view[start:pos])
            elif wire == LENGTH:
                size, start = self._varint(view, pos)
                pos = self._take(view, start, size)
                value = bytes(view[start:pos])
            else:
                raise self._error(start, f"unknown wire type {wire} (field {number})")
            self.fields.append(Field(number, wire, value, base + start))

    # -- reading a field ---------------------------------------------------------------------
    def all(self, number: int) -> list[Field]:
        return [f for f in self.fields if f.number == number]

    def int(self, number: int, default: int = 0) -> int:
        found = self.all(number)
        return _signed(self._expect(found[-1], VARINT).value) if found else default

    def ints(self, number: int) -> list[int]:
        """A repeated integer field, packed or not."""
        out = []
        for f in self.all(number):
            if f.wire == LENGTH:
                view, pos = memoryview(f.value), 0
                while pos < len(view):
                    value, pos = self._varint(view, pos, f.offset)
                    out.append(_signed(value))
            else:
                out.append(_signed(self._expect(f, VARINT).value))
        return out

    def float(self, number: int, default: float = 0.0) -> float:
        found = self.all(number)
        return struct.unpack("<f", self._expect(found[-1], FIXED32).value)[0] if found else default

    def double(self, number: int, default: float = 0.0) -> float:
        found = self.all(number)
        return struct.unpack("<d", self._expect(found[-1], FIXED64).value)[0] if found else default

    def bytes(self, number: int, default: bytes = b"") -> bytes:
        found = self.all(number)
        return self._expect(found[-1], LENGTH).value if found else default

    def string(self, number: int, default: str = "") -> str:
        return self.strings(number)[-1] if self.all(number) else default

    def strings(self, number: int) -> list[str]:
        out = []
        for f in self.all(number):
            try:
                out.append(self._expect(f, LENGTH).value.decode())
            except UnicodeDecodeError:
                raise self._error(f.offset - self.base, f"field {number} is not UTF-8 text") from None
        return out

    def message(self, number: int) -> "Message | None":
        found = self.messages(number)
        return found[-1] if found else None

    def messages(self, number: int) -> list["Message"]:
        return [Message(self._expect(f, LENGTH).value, self.source, f.offset) for f in self.all(number)]

    # -- checks ------------------------------------------------------------------------------
    def _expect(self, f: Field, wire: int) -> Field:
        if f.wire != wire:
            raise WireError(f"{self.source}: corrupt protobuf at byte {f.offset}: field {f.number} has wire type "
                            f"{f.wire}, expected {wire}")
        return f

    def _varint(self, view: memoryview, pos: int, base: int | None = None) -> tuple[int, int]:
        value = shift = 0
        start = pos
        while True:
            if pos >= len(view):
                raise self._error(start, "truncated varint", base)
            byte = view[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                return value, pos
            shift += 7
            if shift >= 70:
                raise self._error(start, "varint longer than 10 bytes", base)

    def _take(self, view: memoryview, pos: int, size: int) -> int:
        if pos + size > len(view):
            raise self._error(pos, f"truncated: a field needs {size} bytes, {len(view) - pos} remain")
        return pos + size

    def _error(self, pos: int, what: str, base: int | None = None) -> WireError:
        return WireError(f"{self.source}: corrupt or truncated protobuf at byte {(self.base if base is None else base) + pos}: "
                         f"{what}; the file is damaged or not of this format: write it again")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value
