"""A really full disk for fault tests: a small tmpfs mounted for one test (it takes root; elsewhere the
test is skipped, saying why)."""
import subprocess

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB file system, empty, mounted at tmp_path / "disk"."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                               text=True)
    except FileNotFoundError:
        pytest.skip("a full disk needs a small tmpfs, and there is no mount command")
    if mount.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, and mounting one failed: {mount.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)
