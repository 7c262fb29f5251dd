"""Dataset download: try each mirror in turn, verify size and md5, extract, all through atomic renames.

A `DataSource` names a dataset's files, its mirror variable and its public mirrors; MNIST and
Fashion-MNIST are two values of it. The result is mindvision's layout,
`<path>/train/train-images-idx3-ubyte` (...), with each `.gz` kept beside its extracted file.
The checksums are those of the uncompressed files, published with each dataset: some mirrors
recompress the archives, but never the data. A file already on disk is used when it is the
published one (checksum.py: hashed once, then believed while its size and mtime hold); otherwise
it is extracted again from the `.gz` beside it, or downloaded again.

Mirrors are tried HTTPS (and local) first, plain HTTP last; whatever a mirror sends is checked
against the published MD5 before it is used. A download stops at the most the archive can
legitimately be (the published size, plus gzip's overhead, plus a margin) and an extraction at
the published size, so a mirror serving a huge file or a gzip bomb fills no disk. A full disk, a
file size limit or a read-only folder is reported as such, not as a mirror failure.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import sys
import time
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple

from graphc import env
from graphc.atomic_file import atomic_output
from runtime.dataset.checksum import ChecksumMismatch, DataFile, mismatch, record

DATA_DIR_ENV = "GRAPHC_DATA_DIR"
_CHUNK = 1 << 20
_TIMEOUT_SECONDS = 60


class DataSource(NamedTuple):
    name: str                            # as users know it; its folder in the cache is the lowercase form
    mirrors_env: str                     # the variable that overrides the public mirrors
    public_mirrors: tuple[str, ...]      # HTTPS first
    splits: dict[str, tuple[DataFile, DataFile]]   # split -> (images, labels)

    def mirrors(self) -> list[str]:
        """Base URLs to try: $mirrors_env (comma or whitespace separated) or the public ones, plain HTTP last."""
        mirrors = list(env.get(self.mirrors_env) or self.public_mirrors)
        return sorted(mirrors, key=lambda url: url.lower().startswith("http://"))

    def default_root(self) -> Path:
        """Where a dataset is kept when the user names no folder: $GRAPHC_DATA_DIR/<name>, else ~/.cache."""
        base = env.get(DATA_DIR_ENV) or Path.home() / ".cache" / "graphc" / "datasets"
        return Path(base).expanduser() / self.name.lower()


def _idx_files(images_md5: str, labels_md5: str, count: int, prefix: str) -> tuple[DataFile, DataFile]:
    """The 28x28 image and label IDX files of one split of an MNIST-format dataset."""
    return (DataFile(f"{prefix}-images-idx3-ubyte", 16 + count * 28 * 28, images_md5),
            DataFile(f"{prefix}-labels-idx1-ubyte", 8 + count, labels_md5))


MNIST = DataSource(
    "MNIST", "GRAPHC_MNIST_MIRRORS",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
     "http://yann.lecun.com/exdb/mnist/"),
    {"train": _idx_files("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624", 60000, "train"),
     "test": _idx_files("2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637", 10000, "t10k")})

FASHION_MNIST = DataSource(
    "Fashion-MNIST", "GRAPHC_FASHION_MNIST_MIRRORS",
    ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
     "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    {"train": _idx_files("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9", 60000, "train"),
     "test": _idx_files("8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965", 10000, "t10k")})


class DownloadError(RuntimeError):
    """No mirror delivered a file whose checksum matches, or the file could not be written here."""


class TooLarge(ValueError):
    """A mirror sent more than the published file can be."""


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}   # this machine's fault, not the mirror's


def download_split(source: DataSource, path: str | Path, split: str) -> Path:
    """Download and extract one split ("train" or "test") of `source` under `path`; return its directory.

    Files already there that are the published ones are kept; any other is fetched again.
    """
    directory = Path(path).expanduser() / split
    directory.mkdir(parents=True, exist_ok=True)
    for file in source.splits[split]:
        existing = directory / file.name
        if existing.is_file():
            problem = mismatch(existing, file)
            if problem is None:
                continue
            print(f"{existing} {problem}: fetching it again", file=sys.stderr)
        _download(source, file, directory)
    return directory


def download_mnist(path: str | Path, split: str) -> Path:
    return download_split(MNIST, path, split)


def _download(source: DataSource, file: DataFile, directory: Path) -> None:
    archive = file.name + ".gz"
    local = [directory.as_uri()] if (directory / archive).is_file() else []     # extract again what is here
    failures = []
    for mirror in local + source.mirrors():
        url = mirror.rstrip("/") + "/" + archive
        try:
            _fetch_and_extract(url, file, directory)
            return
        except OSError as exc:
            if exc.errno in _DISK_ERRORS:
                raise DownloadError(f"could not write {source.name}'s {file.name} into {directory}: {exc.strerror} "
                                    f"(while fetching {url}); free space there, or pass another folder") from exc
            failures.append(f"  {url}: {exc}")
        except (EOFError, zlib.error, ValueError, http.client.HTTPException) as exc:
            failures.append(f"  {url}: {exc}")
    raise DownloadError(f"could not get {source.name}'s {archive} into {directory}; tried:\n" + "\n".join(failures)
                        + f"\nfix: set {source.mirrors_env} to reachable mirrors (base URLs separated by commas "
                          f"or spaces; file:// URLs of a folder holding the .gz files work), or put the "
                          f"extracted files in {directory}")


def _fetch_and_extract(url: str, file: DataFile, directory: Path) -> None:
    # gzip adds 18 bytes and a name, and 5 bytes per 64 KiB of data it cannot compress
    most = file.size + file.size // 100 + (64 << 10)
    with atomic_output(directory / (file.name + ".gz")) as archive:
        _copy_url(url, archive, most)
        archive.flush()
        with atomic_output(directory / file.name) as extracted:
            md5 = _gunzip(Path(archive.name), extracted, file.size)
            if md5 != file.md5:
                raise ChecksumMismatch(f"md5 of the uncompressed file is {md5}, expected {file.md5}")
            if extracted.tell() != file.size:
                raise ChecksumMismatch(f"the uncompressed file has {extracted.tell()} bytes, expected {file.size}")
    record(directory / file.name, md5, (directory / file.name).stat())


def _copy_url(url: str, out: BinaryIO, most: int) -> None:
    """Copy what `url` sends into `out`, refusing more than `most` bytes."""
    request = urllib.request.Request(url, headers={"User-Agent": "graphc-datasets"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
        total = int(response.headers.get("Content-Length") or 0)
        if total > most:
            raise TooLarge(f"it is {total} bytes, more than the {most} its archive can be")
        progress = _Progress(url.rsplit("/", 1)[-1], total) if sys.stderr.isatty() else None
        while chunk := response.read(_CHUNK):
            most -= len(chunk)
            if most < 0:
                raise TooLarge("it sent more bytes than the archive can be; stopped there")
            out.write(chunk)
            if progress:
                progress.advance(len(chunk))
        if progress:
            progress.finish()


def _gunzip(archive: Path, out: BinaryIO, size: int) -> str:
    """Decompress into `out`, stopping past `size` bytes, and return the md5 of the decompressed bytes."""
    digest = hashlib.md5()
    with gzip.open(archive, "rb") as source:
        while chunk := source.read(min(_CHUNK, size + 1 - out.tell())):
            if out.tell() + len(chunk) > size:
                raise TooLarge(f"it decompresses to more than {size} bytes, the published size; stopped there")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


class _Progress:
    """A one-line byte counter on stderr (only drawn when stderr is a terminal)."""

    def __init__(self, name: str, total: int):
        self.name, self.total, self.done, self.drawn_at = name, total, 0, 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if time.monotonic() - self.drawn_at > 0.1:
            self.drawn_at = time.monotonic()
            of_total = f"/{self.total / 1e6:.1f}" if self.total else ""
            sys.stderr.write(f"\r{self.name}: {self.done / 1e6:.1f}{of_total} MB")
            sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write(f"\r{self.name}: {self.done / 1e6:.1f} MB, done\n")
