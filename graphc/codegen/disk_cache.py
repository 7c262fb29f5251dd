"""The on-disk cache of compiled code: object files (.gobj), step layouts (.gstep) and kernel
layouts (.gkern).

Entries are native code that gets loaded into the process, so the directory must be the user's
alone: it is created with mode 0700, and one that another user owns, or that group or others can
write, is never read or written (a warning, once per directory; compiling goes on without it).
A key becomes a file name only once it is checked to be 64 hex digits. Every entry carries a header
(key, length, sha256 of the payload); a damaged or foreign one is deleted, never loaded. Writes go
to a temporary file renamed into place. The cache is bounded by GRAPHC_CACHE_MAX_BYTES (default
1 GiB; a bad value is an error at the cache's first use): a write that takes it past the bound deletes the least recently used entries (a read
refreshes an entry's modification time). A process sums the directory once, at its first write,
then adds what it writes; only past the bound does it list the directory again (listing it at
every write made compiling quadratic in the cache's size: MobileNetV2's 450 writes into a
5,000-entry cache stat'ed 2 million files).
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import tempfile
import warnings
from pathlib import Path

from .. import env

# entry kinds: object code; a step's layout (codegen/step_index.py); a kernel's (codegen/kernel_cache.py)
OBJECT, STEP_INDEX, KERNEL_INDEX = ".gobj", ".gstep", ".gkern"
KINDS = (OBJECT, STEP_INDEX, KERNEL_INDEX)
TEMPORARY = ".tmp-"                     # prefix of a write in progress (or one a crash left behind)
FAILED = "failed"                       # sub-directory of the IR of modules LLVM rejected
_MAGIC = b"GRAPHC-OBJ-1\n"
_HEADER = struct.Struct("<64sQ32s")     # hex key, payload length, sha256(payload)
_KEY = re.compile(r"[0-9a-f]{64}")
_warned: set[str] = set()


def cache_dir() -> Path:
    return env.get("GRAPHC_CACHE_DIR") or Path.home() / ".cache" / "graphc"


def max_bytes() -> int:
    return env.get("GRAPHC_CACHE_MAX_BYTES")


def unsafe_reason(directory: Path) -> str | None:
    """Why `directory` must not hold code this process loads, or None when it is the user's own."""
    info = directory.stat()
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.getuid():
        return f"it belongs to user id {info.st_uid}, not to this user ({os.getuid()})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"group or others can write to it (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def usable_dir(create: bool = True) -> Path | None:
    """The cache directory (created 0700 when `create`), or None when it is absent or unsafe."""
    max_bytes()                         # a bad bound is an error at first use, whether reading or writing
    directory = cache_dir()
    if create:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not directory.exists():
        return None
    reason = unsafe_reason(directory)
    if reason is None:
        return directory
    if str(directory) not in _warned:
        _warned.add(str(directory))
        warnings.warn(f"graphc: not using the compiled-code cache {directory}: {reason}. Compiling without it; "
                      "point GRAPHC_CACHE_DIR at a directory only you can write", RuntimeWarning, stacklevel=2)
    return None


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"a cache key is 64 lowercase hex digits, got {key!r}")
    return key


def read_entry(key: str, kind: str = OBJECT) -> bytes | None:
    """The payload cached for `key`, or None; a damaged or foreign entry is deleted."""
    check_key(key)
    directory = usable_dir(create=False)
    if directory is None:
        return None
    path = directory / f"{key}{kind}"
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    payload = valid_payload(blob, key)
    if payload is None:
        path.unlink(missing_ok=True)
    else:
        os.utime(path)                  # recently used: evicted last
    return payload


def valid_payload(blob: bytes, key: str) -> bytes | None:
    head = len(_MAGIC) + _HEADER.size
    if len(blob) < head or not blob.startswith(_MAGIC):
        return None
    stored_key, length, digest = _HEADER.unpack_from(blob, len(_MAGIC))
    payload = blob[head:]
    if stored_key != key.encode() or length != len(payload) or hashlib.sha256(payload).digest() != digest:
        return None
    return payload


def write_entry(key: str, payload: bytes, kind: str = OBJECT) -> None:
    """Write atomically (temp file + rename) so readers never see half an entry; then keep the
    cache within its bound. Nothing is written to an unsafe directory."""
    directory = usable_dir()
    if directory is None:
        return
    path = directory / f"{check_key(key)}{kind}"
    header = _MAGIC + _HEADER.pack(key.encode(), len(payload), hashlib.sha256(payload).digest())
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMPORARY)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header + payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _keep_bound(directory, len(header) + len(payload))


_sizes: dict[str, int] = {}              # directory -> bytes of its entries, as this process knows them


def _keep_bound(directory: Path, written: int) -> None:
    known = _sizes.get(str(directory))
    total = _entry_bytes(directory) if known is None else known + written
    limit = max_bytes()
    _sizes[str(directory)] = evict(directory, limit) if total > limit else total


def evict(directory: Path, limit: int) -> int:
    """Delete least recently used entries until the entries take at most `limit` bytes; returns
    the bytes left."""
    entries = [(p.stat(), p) for p in _entries(directory)]
    total = sum(info.st_size for info, _ in entries)
    for info, path in sorted(entries, key=lambda e: e[0].st_mtime_ns):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= info.st_size
    return total


def _entry_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in _entries(directory))


def failed_dump_dir() -> Path:
    """Where the IR of a module LLVM rejected is written: the cache's `failed/`, or a fresh
    private temporary directory when the cache directory is unsafe."""
    directory = usable_dir()
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="graphc-failed-"))
    (directory / FAILED).mkdir(mode=0o700, exist_ok=True)
    return directory / FAILED


def _entries(directory: Path) -> list[Path]:
    return [path for kind in KINDS for path in directory.glob(f"*{kind}")]


def _leftovers(directory: Path) -> list[Path]:
    """Temporary files of interrupted writes and the IR of failed compiles."""
    return [*directory.glob(f"{TEMPORARY}*"), *(directory / FAILED).glob("*.ll")]


def info() -> dict:
    """What the disk cache holds: entries and their bytes, leftovers (temporary files, failed-compile
    dumps), the bound, and why it is not used when it is unsafe."""
    directory = cache_dir()
    found = {"dir": str(directory), "entries": 0, "bytes": 0, "leftovers": 0, "leftover_bytes": 0,
             "max_bytes": max_bytes(), "unsafe": None}
    if not directory.exists():
        return found
    found["unsafe"] = unsafe_reason(directory)
    entries, leftovers = _entries(directory), _leftovers(directory)
    found.update(entries=len(entries), bytes=sum(p.stat().st_size for p in entries), leftovers=len(leftovers),
                 leftover_bytes=sum(p.stat().st_size for p in leftovers))
    return found


def clear() -> dict:
    """Delete every entry and leftover; returns info() from before. An unsafe directory is left
    alone (it may be someone else's)."""
    before = info()
    if before["unsafe"] is None and cache_dir().exists():
        for path in _entries(cache_dir()) + _leftovers(cache_dir()):
            path.unlink(missing_ok=True)
        _sizes.pop(str(cache_dir()), None)
    return before
