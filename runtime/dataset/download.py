"""MNIST download: try each mirror in turn, verify the md5, extract, all through atomic renames.

The result is mindvision's layout, `<path>/train/train-images-idx3-ubyte` (…), with each `.gz`
kept beside its extracted file. The checksums checked are those of the uncompressed files,
published with the dataset: mirrors recompress the archives (the published `.gz` checksums
f68b3c2d…, d53e105e…, 9fb629c4…, ec29112d… do not match every faithful copy), but never the data.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import sys
import time
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple

from runtime.checkpoint_format import atomic_output

MIRRORS_ENV = "GRAPHC_MNIST_MIRRORS"
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_CHUNK = 1 << 20
_TIMEOUT_SECONDS = 60


class MnistFile(NamedTuple):
    name: str  # the extracted file; the archive is name + ".gz"
    md5: str   # of the extracted file


MNIST_FILES = {
    "train": (MnistFile("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
              MnistFile("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624")),
    "test": (MnistFile("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
             MnistFile("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637")),
}


class DownloadError(RuntimeError):
    """No mirror delivered a file whose checksum matches."""


class ChecksumMismatch(ValueError):
    pass


def mirrors() -> list[str]:
    """Base URLs to try, in order: $GRAPHC_MNIST_MIRRORS (comma or whitespace separated) or the defaults."""
    configured = os.environ.get(MIRRORS_ENV, "")
    return [url for url in re.split(r"[\s,]+", configured) if url] or list(DEFAULT_MIRRORS)


def download_mnist(path: str | Path, split: str) -> Path:
    """Download and extract one split ("train" or "test") under `path`; return its directory.

    Does nothing when the extracted files are already there.
    """
    directory = Path(path).expanduser() / split
    directory.mkdir(parents=True, exist_ok=True)
    for file in MNIST_FILES[split]:
        if not (directory / file.name).is_file():
            _download(file, directory)
    return directory


def _download(file: MnistFile, directory: Path) -> None:
    archive = file.name + ".gz"
    failures = []
    for mirror in mirrors():
        url = mirror.rstrip("/") + "/" + archive
        try:
            _fetch_and_extract(url, file, directory)
            return
        except (OSError, EOFError, zlib.error, ValueError, http.client.HTTPException) as exc:
            failures.append(f"  {url}: {exc}")
    raise DownloadError(f"could not get {archive} into {directory}; tried:\n" + "\n".join(failures)
                        + f"\nfix: set {MIRRORS_ENV} to reachable mirrors (base URLs separated by commas or "
                          f"spaces; file:// URLs work), or put the extracted files in {directory}")


def _fetch_and_extract(url: str, file: MnistFile, directory: Path) -> None:
    # The extracted file appears last: its presence means the download is complete.
    with atomic_output(directory / (file.name + ".gz")) as archive:
        _copy_url(url, archive)
        archive.flush()
        with atomic_output(directory / file.name) as extracted:
            md5 = _gunzip(Path(archive.name), extracted)
            if md5 != file.md5:
                raise ChecksumMismatch(f"md5 of the uncompressed file is {md5}, expected {file.md5}")


def _copy_url(url: str, out: BinaryIO) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "graphc-mnist"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
        total = int(response.headers.get("Content-Length") or 0)
        progress = _Progress(url.rsplit("/", 1)[-1], total) if sys.stderr.isatty() else None
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            if progress:
                progress.advance(len(chunk))
        if progress:
            progress.finish()


def _gunzip(archive: Path, out: BinaryIO) -> str:
    """Decompress into `out` and return the md5 of the decompressed bytes."""
    digest = hashlib.md5()
    with gzip.open(archive, "rb") as source:
        while chunk := source.read(_CHUNK):
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
