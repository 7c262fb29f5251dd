"""Published dataset files, and the check that a file on disk is one, done once per file.

A file is hashed once; the marker `.<name>.md5` beside it records its MD5 with the size and mtime
(ns) it had then. While both are unchanged the marker is believed; a file whose size or mtime
changed is hashed again. (So a change that keeps both, such as bit rot, goes unseen.) A file without
a marker was not fetched by graphc, e.g. MindSpore's MNIST_Data or a user's own IDX files of
another dataset under the same names: readers take it as it is, as MindSpore does.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from graphc.atomic_file import atomic_write_bytes

_CHUNK = 1 << 20


class DataFile(NamedTuple):
    name: str   # the extracted file; the archive is name + ".gz"
    size: int   # bytes of the extracted file
    md5: str    # of the extracted file


class ChecksumMismatch(ValueError):
    """A file that is not the published one."""


def mismatch(path: Path, file: DataFile) -> str | None:
    """How the file at `path` differs from the published `file` ("is 5 bytes, not the published 11"), or None."""
    info = path.stat()
    if info.st_size != file.size:
        return f"is {info.st_size} bytes, not the published {file.size}"
    md5 = _recorded_md5(path, info)
    if md5 is None:
        md5 = _md5_of(path)
        record(path, md5, info)
    return None if md5 == file.md5 else f"has MD5 {md5}, not the published {file.md5}"


def check_fetched(path: Path, file: DataFile, owner: str) -> None:
    """For readers: a file graphc fetched (it has a marker) must still be the published one."""
    if _marker(path).exists() and (problem := mismatch(path, file)):
        raise ChecksumMismatch(f"{owner}: {path} {problem}: it changed since it was downloaded; download it "
                               "again (download=True) or delete it")


def record(path: Path, md5: str, info: os.stat_result) -> None:
    """Record that `path`, as `info` describes it, has this MD5."""
    # a folder we may not write costs a hash at each use, never a wrong answer
    with contextlib.suppress(OSError):
        atomic_write_bytes(_marker(path), f"{md5} {info.st_size} {info.st_mtime_ns}\n".encode())


def _recorded_md5(path: Path, info: os.stat_result) -> str | None:
    """The MD5 the marker records, if it describes the file as it is now."""
    try:
        md5, size, mtime_ns = _marker(path).read_text().split()
        unchanged = (int(size), int(mtime_ns)) == (info.st_size, info.st_mtime_ns)
    except (OSError, ValueError):
        return None
    return md5 if unchanged else None


def _marker(path: Path) -> Path:
    return path.with_name(f".{path.name}.md5")


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
