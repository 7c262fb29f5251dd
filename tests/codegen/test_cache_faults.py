"""The compiled-code cache is optional in fact: each fault that made every compile raise
(PermissionError, EROFS, FileExistsError, ENOSPC, EFBIG) is made for real in a child process
(cache_fault_child.py), which must compile and train to the same bits as with a working cache,
with exactly one warning naming the directory and the OS error.

Read-only and full file systems are mounted in a private mount namespace of the child
(`unshare --mount`: the mounts vanish with it); those cases skip, with the reason, where that is not
permitted. A file size limit needs no privilege."""
import json
import os
import resource
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("cache_fault_child.py")
REPO = Path(__file__).resolve().parents[2]


def run_child(env: dict, mounts: str = "", limit_file_size: int | None = None) -> dict:
    """cache_fault_child.py's report, run with `env` added, after the shell commands `mounts` in a
    private mount namespace (when given) and under a file size limit (when given)."""
    command = [sys.executable, str(CHILD)]
    if mounts:
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                   f"{mounts}\nexec {shlex.join(command)}"]
    preexec = (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size,) * 2)) if limit_file_size else None
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", **env}
    done = subprocess.run(command, env={k: v for k, v in full_env.items() if v is not None}, capture_output=True,
                          text=True, timeout=600, preexec_fn=preexec)
    assert done.returncode == 0, f"the child failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> list:
    """The results with a working cache."""
    return run_child({"GRAPHC_CACHE_DIR": str(tmp_path_factory.mktemp("working") / "cache")})["results"]


@pytest.fixture(scope="module")
def mounts_permitted(tmp_path_factory) -> None:
    target = tmp_path_factory.mktemp("probe")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                            f"mount -t tmpfs -o size=64k tmpfs {target}"], capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"mounting a file system in a private mount namespace is not permitted here "
                    f"(unshare --mount ... mount -t tmpfs: {probe.stderr.strip()})")


def assert_one_warning(report: dict, expected: list, directory, error: str) -> None:
    assert report["results"] == expected
    assert len(report["warnings"]) == 1, report["warnings"]
    assert f"compiled-code cache {directory}: " in report["warnings"][0] and error in report["warnings"][0]


def test_a_cache_dir_that_is_a_file(tmp_path, expected):
    file = tmp_path / "cache"
    file.write_text("not a directory")
    assert_one_warning(run_child({"GRAPHC_CACHE_DIR": str(file)}), expected, file, "it is not a directory")


def test_a_file_size_limit(tmp_path, expected):
    """ulimit -f: Python ignores SIGXFSZ, so a write past the limit fails with EFBIG."""
    cache = tmp_path / "cache"
    report = run_child({"GRAPHC_CACHE_DIR": str(cache)}, limit_file_size=512)
    assert_one_warning(report, expected, cache, "[Errno 27] File too large")
    assert not [name for name in report["left"] if name.startswith(".tmp-")]       # no half-written entry left


def test_a_full_disk(tmp_path, expected, mounts_permitted):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    fill = f"mount -t tmpfs -o size=64k,mode=0700 tmpfs {cache}\nhead -c 1000000 /dev/zero > {cache}/fill || true"
    report = run_child({"GRAPHC_CACHE_DIR": str(cache)}, mounts=fill)
    assert_one_warning(report, expected, cache, "[Errno 28] No space left on device")
    assert report["left"] == ["fill"]


@pytest.mark.parametrize("warm", [False, True], ids=["empty", "warm"])
def test_a_read_only_cache(tmp_path, expected, mounts_permitted, warm):
    """A read-only file system; a warm one still serves its entries (refreshing their time fails)."""
    cache = tmp_path / "cache"
    if warm:
        assert run_child({"GRAPHC_CACHE_DIR": str(cache)})["results"] == expected
    else:
        cache.mkdir(mode=0o700)
    before = sorted(os.listdir(cache))
    report = run_child({"GRAPHC_CACHE_DIR": str(cache)}, mounts=f"mount --bind -o ro {cache} {cache}")
    assert_one_warning(report, expected, cache, "[Errno 30] Read-only file system")
    assert report["left"] == before


def test_a_home_that_does_not_exist_on_a_read_only_file_system(tmp_path, expected, mounts_permitted):
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    home = readonly / "home"
    report = run_child({"GRAPHC_CACHE_DIR": None, "HOME": str(home)}, mounts=f"mount --bind -o ro {readonly} {readonly}")
    assert_one_warning(report, expected, home / ".cache" / "graphc", "[Errno 30] Read-only file system")


def test_no_home_directory(tmp_path, expected, mounts_permitted):
    """HOME unset and no password entry for this user id (an arbitrary user id in a container): the
    child sees a password file without its entry, looked up in files only (nss-systemd would make
    one up for root)."""
    passwd, nsswitch = tmp_path / "passwd", tmp_path / "nsswitch.conf"
    passwd.write_text("".join(line for line in Path("/etc/passwd").read_text().splitlines(keepends=True)
                              if line.split(":")[2:3] != [str(os.getuid())]))
    nsswitch.write_text("passwd: files\ngroup: files\n")
    hide = f"mount --bind {passwd} /etc/passwd\nmount --bind {nsswitch} /etc/nsswitch.conf"
    report = run_child({"GRAPHC_CACHE_DIR": None, "HOME": None}, mounts=hide)
    assert_one_warning(report, expected, "~/.cache/graphc", "there is no home directory")
