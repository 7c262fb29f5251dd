"""A really full disk for fault tests: small tmpfs file systems mounted for one test (it takes root;
elsewhere the test is skipped, saying why)."""
import errno
import os
import subprocess

import pytest


@pytest.fixture
def tmpfs(tmp_path):
    """mount(megabytes) -> an empty file system of that size, mounted under tmp_path until the test ends."""
    mounted = []

    def mount(megabytes):
        disk = tmp_path / f"disk{len(mounted)}"
        disk.mkdir()
        try:
            result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(disk)],
                                    capture_output=True, text=True)
        except FileNotFoundError:
            pytest.skip("a full disk needs a small tmpfs, and there is no mount command")
        if result.returncode != 0:
            pytest.skip(f"a full disk needs a small tmpfs, and mounting one failed: {result.stderr.strip()}")
        mounted.append(disk)
        return disk
    yield mount
    for disk in mounted:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.fixture
def small_disk(tmpfs):
    """A 1 MiB file system, empty."""
    return tmpfs(1)


def fill(directory):
    """Take every byte left on the file system of `directory` (a file named "filler")."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(fd)
