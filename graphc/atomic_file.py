"""Files written atomically (checkpoints, downloads, their markers): readers see the old file or the
whole new one, never a part.

The bytes go to a temporary file beside the target, `.<target>.<host>.<pid>.<random>.tmp`, fsynced,
then renamed over the target. A writer killed mid-write (SIGKILL, OOM killer) leaves its temporary
behind; the next atomic write into the same directory deletes every temporary of this host whose
writing process no longer exists. The host is in the name because a directory on a shared file
system may hold temporaries of live writers on other machines, whose pids mean nothing here.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from pathlib import Path
from typing import BinaryIO, Iterator


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that replaces `path` when the block succeeds and vanishes if it raises."""
    path = Path(path)
    remove_stale_temporaries(path.parent)
    temp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "xb") as file:  # permissions from the umask, like any file the user creates
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_output(path) as file:
        file.write(data)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete the temporaries in `directory` that writers of this host left when they died."""
    pattern = re.compile(rf"\..+\.{re.escape(socket.gethostname())}\.(\d+)\.[0-9a-f]{{8}}\.tmp")
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            match = pattern.fullmatch(entry.name)
            if match and not _process_exists(int(match[1])):
                # best effort: a temporary we may not delete costs space, never correctness
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # another user's process
        return True
    return True
