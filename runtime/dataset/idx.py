"""Reader for the IDX files MNIST ships in (plain or gzip-compressed), with strict header checks.

Layout (big-endian): 2 zero bytes, a dtype byte (0x08 = unsigned byte, the only one MNIST uses),
a dimension-count byte, one uint32 per dimension, then the data in C order.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

UNSIGNED_BYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """An IDX file whose bytes do not match the format."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}; the file is corrupt or not an IDX file: "
                         f"delete it and download it again")


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """The uint8 array stored in an IDX file that must have `ndim` dimensions (3: images, 1: labels)."""
    path = Path(path)
    data = _read_bytes(path)
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxFormatError(path, f"it is {len(data)} bytes long, shorter than the {header_size}-byte "
                                   f"header of a {ndim}-dimensional IDX file")
    expected_magic = (UNSIGNED_BYTE << 8) | ndim
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise IdxFormatError(path, f"magic number is 0x{magic:08x}, expected 0x{expected_magic:08x} "
                                   f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected_size = int(np.prod(dims))
    payload_size = len(data) - header_size
    if payload_size != expected_size:
        shape = "x".join(map(str, dims))
        raise IdxFormatError(path, f"header says {shape} = {expected_size} data bytes, found {payload_size}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxFormatError(path, f"gzip data is damaged ({exc})") from None
