"""The .ckpt byte format: golden bytes built from the protobuf spec, round trips, corrupt input, atomic writes."""
import binascii
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.checkpoint_format import (TENSOR_TYPES, CheckpointFormatError, decode_checkpoint, encode_checkpoint,
                                       read_checkpoint, write_checkpoint)

# Protobuf wire format, from the spec: key = field_number << 3 | wire_type; 0 varint, 2 length-delimited.
VARINT, BYTES = 0, 2


def key(field, wire_type):
    return bytes([field << 3 | wire_type])  # one byte while field < 16


def length_delimited(field, payload):
    assert len(payload) < 128  # one-byte length
    return key(field, BYTES) + bytes([len(payload)]) + payload


def tensor_proto(dims, type_name, content):
    return (b"".join(key(1, VARINT) + bytes([d]) for d in dims)
            + length_delimited(2, type_name) + length_delimited(3, content))


def value(tag, tensor):
    return length_delimited(1, length_delimited(1, tag) + length_delimited(2, tensor))


def crc_trailer(body):
    """MindSpore's crc_check trailer (serialization.py): b"crc_num", then the crc32 of the bytes before it as
    10 bytes, big-endian."""
    return b"crc_num" + binascii.crc32(body).to_bytes(10, "big")


PROMISE = b"\xf8\x7f" + b"\x01"   # field 2047, varint: key 2047 << 3 = 16376 = varint f8 7f; value 1


def test_golden_bytes():
    values = (value(b"conv.w", tensor_proto([2], b"Float32", struct.pack("<2f", 1.0, -2.0)))
              + value(b"step", tensor_proto([0], b"Int32", struct.pack("<i", 7))))  # MindSpore: 0-d -> dims [0]
    entries = [("conv.w", np.array([1.0, -2.0], np.float32)), ("step", np.array(7, np.int32))]
    assert encode_checkpoint(entries) == PROMISE + values + crc_trailer(PROMISE + values)


def test_multi_byte_varints():
    data = encode_checkpoint([("x", np.zeros(300, np.uint8))])
    # 300 = 0b10_0101100 -> varint bytes 0xAC 0x02 (the spec's own example)
    assert key(1, VARINT) + b"\xac\x02" in data
    assert key(3, BYTES) + b"\xac\x02" + bytes(300) in data


@pytest.mark.parametrize("type_name", sorted(TENSOR_TYPES))
@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 4), (2, 1, 3)])
def test_round_trip_every_type_and_shape(type_name, shape):
    dtype = np.dtype(TENSOR_TYPES[type_name])
    array = (np.random.default_rng(1).standard_normal(shape) * 100).astype(dtype)
    [(name, decoded)] = decode_checkpoint(encode_checkpoint([("p", array)]))
    assert name == "p" and decoded.dtype == dtype and decoded.shape == shape
    np.testing.assert_array_equal(decoded, array)
    assert type_name.encode() in encode_checkpoint([("p", array)])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12),
                          st.lists(st.integers(0, 4), max_size=3),
                          st.sampled_from(["Float32", "Int64", "Bool", "Float16"])), max_size=4, unique_by=lambda e: e[0]))
def test_round_trip_property(specs):
    entries = [(name, (np.arange(int(np.prod(shape))) % 3).astype(TENSOR_TYPES[t]).reshape(shape))
               for name, shape, t in specs]
    decoded = decode_checkpoint(encode_checkpoint(entries))
    assert [n for n, _ in decoded] == [n for n, _ in entries]
    for (_, a), (_, b) in zip(entries, decoded):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_decodes_packed_dims_and_empty_dims():
    packed = key(1, BYTES) + bytes([2, 2, 3]) + length_delimited(2, b"UInt8") + length_delimited(3, bytes(range(6)))
    scalar = tensor_proto([], b"Float64", struct.pack("<d", 2.5))
    [(_, a), (_, s)] = decode_checkpoint(value(b"a", packed) + value(b"s", scalar))
    np.testing.assert_array_equal(a, np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert s.shape == () and s == 2.5


def varint(n):
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


@pytest.mark.parametrize("dims", [(2 ** 62 + 1, 4), (2 ** 32, 2 ** 32, 1)])
def test_huge_dims_are_a_corrupt_checkpoint_not_an_overflow(dims):
    """The sizes are exact integers: (2**62 + 1) * 4 wraps to 4 in int64 and would pass a 4-byte check."""
    packed = b"".join(varint(d) for d in dims)
    tensor = key(1, BYTES) + bytes([len(packed)]) + packed + length_delimited(2, b"UInt8") + \
        length_delimited(3, b"\0\1\2\3")
    with pytest.raises(CheckpointFormatError, match=r"needs \d{19,} bytes, tensor_content has 4; "
                                                    r"the checkpoint is truncated or corrupt"):
        decode_checkpoint(value(b"w", tensor))


def test_joins_consecutive_slices_of_one_tag():
    # MindSpore splits big tensors into several values with the same tag and the full dims
    first = value(b"big", tensor_proto([4], b"Int32", struct.pack("<2i", 1, 2)))
    second = value(b"big", tensor_proto([4], b"Int32", struct.pack("<2i", 3, 4)))
    [(name, array)] = decode_checkpoint(first + second)
    assert name == "big"
    np.testing.assert_array_equal(array, [1, 2, 3, 4])


def test_skips_unknown_fields():
    tensor = tensor_proto([1], b"Int8", b"\x05") + key(15, VARINT) + b"\x01"
    data = key(9, 5) + b"abcd" + value(b"x", tensor)  # a fixed32 field 9 at the top, unknown to us
    [(_, x)] = decode_checkpoint(data)
    assert x.tolist() == [5]


def test_every_truncation_of_a_graphc_checkpoint_fails():
    data = encode_checkpoint([("a", np.arange(5, dtype=np.float32)), ("b", np.ones((2, 2), np.int64))])
    for cut in range(len(data)):
        with pytest.raises(CheckpointFormatError) as info:
            decode_checkpoint(data[:cut])
        assert 0 <= info.value.offset <= cut
    with pytest.raises(CheckpointFormatError, match="byte 0: the file is empty"):
        decode_checkpoint(b"")


def test_mindspore_files_with_and_without_the_crc_trailer():
    first = value(b"a", tensor_proto([2], b"Int8", b"\x01\x02"))
    values = first + value(b"b", tensor_proto([1], b"Int8", b"\x03"))
    for data in (values, values + crc_trailer(values)):
        assert [(n, x.tolist()) for n, x in decode_checkpoint(data)] == [("a", [1, 2]), ("b", [3])]
    damaged = bytearray(values + crc_trailer(values))
    damaged[-20] ^= 1
    with pytest.raises(CheckpointFormatError, match=f"byte {len(values)}: the CRC-32 .* is [0-9]+, the trailer says"):
        decode_checkpoint(bytes(damaged))
    # Without graphc's promise (MindSpore never writes it), a cut between two values is undetectable:
    # it parses as a shorter checkpoint, as it does in MindSpore.
    assert [n for n, _ in decode_checkpoint(values[:len(first)])] == ["a"]


@pytest.mark.parametrize("data, message", [
    (value(b"x", tensor_proto([2], b"Complex64", bytes(16))), "unknown tensor_type 'Complex64'"),
    (value(b"x", tensor_proto([3], b"Float32", bytes(8))), "needs 12 bytes, tensor_content has 8"),
    (value(b"x", tensor_proto([1], b"Float32", b"")[:-2]), "has no tensor_content"),
    (key(1, VARINT) + b"\x05", "wire type 0, expected 2"),
    (value(b"x", b""), "has no tensor_type"),
    (length_delimited(1, length_delimited(1, b"\xff\xfe") + length_delimited(2, b"")), "not UTF-8"),
    (key(1, 3), "unsupported wire type 3"),
    (b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "overlong varint"),
])
def test_malformed_input_is_reported(data, message):
    with pytest.raises(CheckpointFormatError, match=message):
        decode_checkpoint(data)


def test_read_error_names_the_file_and_offset(tmp_path):
    path = tmp_path / "net.ckpt"
    path.write_bytes(encode_checkpoint([("w", np.ones(10, np.float32))])[:-3])
    with pytest.raises(CheckpointFormatError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value) and "byte " in str(info.value)
    assert isinstance(info.value, ValueError)


def test_write_then_read(tmp_path):
    path = tmp_path / "net.ckpt"
    entries = [("w", np.arange(6, dtype=np.float32).reshape(2, 3)), ("lr", np.array(0.01, np.float32))]
    write_checkpoint(path, entries)
    for (name, array), (got_name, got) in zip(entries, read_checkpoint(path)):
        assert name == got_name
        np.testing.assert_array_equal(array, got)
    assert os.listdir(tmp_path) == ["net.ckpt"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "net.ckpt"
    write_checkpoint(path, [("w", np.zeros(2, np.float32))])
    old = path.read_bytes()

    def replace_fails(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(path, [("w", np.ones(2, np.float32))])
    monkeypatch.undo()
    with pytest.raises(TypeError, match="complex64 has no MindSpore tensor type"):
        write_checkpoint(path, [("z", np.zeros(2, np.complex64))])
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["net.ckpt"]
