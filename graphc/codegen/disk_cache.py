"""The on-disk cache of compiled code: object files (.gobj), step layouts (.gstep) and kernel
layouts (.gkern).

The cache is optional: compiling goes on in memory, with the same results, whenever it cannot be
used. A directory that cannot be created, read or written (no home directory, a read-only file
system, a GRAPHC_CACHE_DIR that is a file, a full disk, a file size limit) costs one warning per
process and directory, naming the directory and the OS error, and is tried again at the next entry
(a read-only cache still serves what it holds).
Entries are native code that gets loaded into the process, so the directory must be the user's
alone: it is created with mode 0700, and one that another user owns, or that group or others can
write, is never read or written (the same warning).
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
import threading
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
_warned: set[str] = set()               # directories warned about
_warned_lock = threading.Lock()         # kernels are compiled and cached on several threads
NO_HOME = "~/.cache/graphc"             # the default directory, named when there is no home to put it in
_NO_HOME_REASON = "there is no home directory (HOME is unset and this user has no password entry)"


def cache_dir() -> Path | None:
    """$GRAPHC_CACHE_DIR, else ~/.cache/graphc; None when there is no home directory (HOME unset
    and no password entry for this user, as for an arbitrary user id in a container)."""
    chosen = env.get("GRAPHC_CACHE_DIR")
    if chosen is not None:
        return chosen
    try:
        return Path.home() / ".cache" / "graphc"
    except RuntimeError:
        return None


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
    """The cache directory (created 0700 when `create`), or None when it is absent, unusable or unsafe."""
    max_bytes()                         # a bad bound is an error at first use, whether reading or writing
    directory = cache_dir()
    if directory is None:
        _warn(NO_HOME, _NO_HOME_REASON)
        return None
    try:
        if create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif not directory.exists():
            return None
        reason = unsafe_reason(directory)
    except OSError as error:
        reason = str(error)
    if reason is None:
        return directory
    _warn(directory, reason)
    return None


def _warn(directory: Path | str, reason: str) -> None:
    """Once per process and directory: the cache is optional, so no problem with it stops a compile."""
    with _warned_lock:
        if str(directory) in _warned:
            return
        _warned.add(str(directory))
    warnings.warn(f"graphc: not using the compiled-code cache {directory}: {reason}. Compiling goes on in memory, "
                  "with the same results; point GRAPHC_CACHE_DIR at a writable directory only you can write",
                  RuntimeWarning, stacklevel=3)


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
    except FileNotFoundError:
        return None
    except OSError as error:
        _warn(directory, str(error))
        return None
    payload = valid_payload(blob, key)
    try:
        if payload is None:
            path.unlink(missing_ok=True)
        else:
            os.utime(path)              # recently used: evicted last
    except OSError as error:            # a read-only cache: its entries are still good
        _warn(directory, str(error))
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
    cache within its bound. Nothing is written to an unsafe directory; a failed write leaves
    nothing behind and warns."""
    name = f"{check_key(key)}{kind}"
    directory = usable_dir()
    if directory is None:
        return
    entry = _MAGIC + _HEADER.pack(key.encode(), len(payload), hashlib.sha256(payload).digest()) + payload
    try:
        _write_atomically(directory / name, entry)
        _keep_bound(directory, len(entry))
    except OSError as error:
        _warn(directory, str(error))


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_sizes: dict[str, int] = {}              # directory -> bytes of its entries, as this process knows them


def _keep_bound(directory: Path, written: int) -> None:
    known = _sizes.get(str(directory))
    total = _entry_bytes(directory) if known is None else known + written
    limit = max_bytes()
    _sizes[str(directory)] = evict(directory, limit) if total > limit else total


def evict(directory: Path, limit: int) -> int:
    """Delete least recently used entries until the entries take at most `limit` bytes; returns
    the bytes left."""
    entries = _stats(_entries(directory))
    total = sum(info.st_size for info, _ in entries)
    for info, path in sorted(entries, key=lambda e: e[0].st_mtime_ns):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= info.st_size
    return total


def _entry_bytes(directory: Path) -> int:
    return sum(info.st_size for info, _ in _stats(_entries(directory)))


def _stats(paths: list[Path]) -> list[tuple[os.stat_result, Path]]:
    """(stat, path) of the paths still there: another process may evict entries meanwhile."""
    found = []
    for path in paths:
        try:
            found.append((path.stat(), path))
        except FileNotFoundError:
            pass
    return found


def failed_dump_dir() -> Path:
    """Where the IR of a module LLVM rejected is written: the cache's `failed/`, or a fresh
    private temporary directory when the cache directory is unusable or unsafe."""
    directory = usable_dir()
    if directory is not None:
        try:
            (directory / FAILED).mkdir(mode=0o700, exist_ok=True)
            return directory / FAILED
        except OSError as error:
            _warn(directory, str(error))
    return Path(tempfile.mkdtemp(prefix="graphc-failed-"))


def _entries(directory: Path) -> list[Path]:
    return [path for kind in KINDS for path in directory.glob(f"*{kind}")]


def _leftovers(directory: Path) -> list[Path]:
    """Temporary files of interrupted writes and the IR of failed compiles."""
    return [*directory.glob(f"{TEMPORARY}*"), *(directory / FAILED).glob("*.ll")]


def info() -> dict:
    """What the disk cache holds: entries and their bytes, leftovers (temporary files, failed-compile
    dumps), the bound, and why it is not used when it is unsafe or there is no home directory."""
    directory = cache_dir()
    found = {"dir": str(directory or NO_HOME), "entries": 0, "bytes": 0, "leftovers": 0, "leftover_bytes": 0,
             "max_bytes": max_bytes(), "unsafe": None if directory else _NO_HOME_REASON}
    if directory is None or not directory.exists():
        return found
    found["unsafe"] = unsafe_reason(directory)
    entries, leftovers = _stats(_entries(directory)), _stats(_leftovers(directory))
    found.update(entries=len(entries), bytes=sum(info.st_size for info, _ in entries), leftovers=len(leftovers),
                 leftover_bytes=sum(info.st_size for info, _ in leftovers))
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
