"""IDX reading and dataset download, on small MNIST-format files made here (served from file:// mirrors)."""
import contextlib
import gzip
import hashlib
import http.server
import os
import re
import threading

import numpy as np
import pytest

from full_disk import fill, small_disk, tmpfs  # noqa: F401  (fixtures)
from runtime.dataset import (FASHION_MNIST, MNIST, DataSource, DownloadError, IdxFormatError, Mnist, MnistDataset,
                             download_split, read_idx)
from runtime.dataset.checksum import ChecksumMismatch, DataFile

MIRRORS_ENV = "GRAPHC_TINY_MIRRORS"
COUNTS = {"train": 5, "test": 3}


def idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A dataset in MNIST's format (5 train, 3 test images), its archives in a mirror folder and its
    checksums computed here. Returns (source, mirror folder, {file name: uncompressed bytes})."""
    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    raw, splits = {}, {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        count = COUNTS[split]
        arrays = {"images-idx3": rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
                  "labels-idx1": rng.integers(0, 10, count, dtype=np.uint8)}
        files = []
        for kind, array in arrays.items():
            name = f"{prefix}-{kind}-ubyte"
            raw[name] = idx_bytes(array)
            (mirror / f"{name}.gz").write_bytes(gzip.compress(raw[name]))
            files.append(DataFile(name, len(raw[name]), md5(raw[name])))
        splits[split] = tuple(files)
    monkeypatch.setenv(MIRRORS_ENV, mirror.as_uri())
    return DataSource("Tiny", MIRRORS_ENV, ("file:///nonexistent/public/",), splits), mirror, raw


# --- IDX ---------------------------------------------------------------------------------------

def test_read_idx_plain_and_gzip(tiny, tmp_path):
    _, mirror, raw = tiny
    path = tmp_path / "images"
    path.write_bytes(raw["train-images-idx3-ubyte"])
    images = read_idx(path, ndim=3)
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(-1), np.frombuffer(raw["train-images-idx3-ubyte"], np.uint8, offset=16))
    labels = read_idx(mirror / "t10k-labels-idx1-ubyte.gz", ndim=1)
    assert labels.tolist() == list(raw["t10k-labels-idx1-ubyte"][8:])


def corrupt(raw, how):
    return {"truncated": raw[:-1], "extra byte": raw + b"\0", "wrong magic": b"\x00\x00\x08\x03" + raw[4:],
            "wrong dtype": b"\x00\x00\x0d\x01" + raw[4:], "short header": raw[:5], "empty": b""}[how]


@pytest.mark.parametrize("how, message", [
    ("truncated", "header says 3 = 3 data bytes, found 2"),
    ("extra byte", "found 4"),
    ("wrong magic", "magic number is 0x00000803, expected 0x00000801"),
    ("wrong dtype", "magic number is 0x00000d01, expected 0x00000801"),
    ("short header", "5 bytes long, shorter than the 8-byte header"),
    ("empty", "0 bytes long, shorter than the 8-byte header"),
])
def test_corrupt_idx_files_are_rejected(tmp_path, tiny, how, message):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(corrupt(tiny[2]["t10k-labels-idx1-ubyte"], how))
    with pytest.raises(IdxFormatError, match=re.escape(message)) as info:
        read_idx(path, ndim=1)
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_idx_dimension_count_and_damaged_gzip(tmp_path, tiny):
    _, mirror, _ = tiny
    with pytest.raises(IdxFormatError, match="expected 0x00000801"):
        read_idx(mirror / "t10k-images-idx3-ubyte.gz", ndim=1)
    damaged = tmp_path / "images.gz"
    damaged.write_bytes((mirror / "train-images-idx3-ubyte.gz").read_bytes()[:1000])
    with pytest.raises(IdxFormatError, match="gzip data is damaged"):
        read_idx(damaged, ndim=3)


# --- download ----------------------------------------------------------------------------------

def test_download_layout_and_checksums(tiny, tmp_path):
    source, mirror, raw = tiny
    for split in ("train", "test"):
        assert download_split(source, tmp_path / "data", split) == tmp_path / "data" / split
    for split, files in source.splits.items():
        for file in files:
            extracted = tmp_path / "data" / split / file.name
            assert extracted.read_bytes() == raw[file.name]
            assert (extracted.parent / f"{file.name}.gz").read_bytes() == (mirror / f"{file.name}.gz").read_bytes()
    assert sorted(p.name for p in (tmp_path / "data" / "test").iterdir()) == [
        ".t10k-images-idx3-ubyte.md5", ".t10k-labels-idx1-ubyte.md5",       # the markers of the MD5 checks
        "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"]


def test_published_files_are_kept_others_fetched_again(tiny, tmp_path, monkeypatch, capsys):
    source, mirror, raw = tiny
    root = download_split(source, tmp_path, "test")
    labels = root / "t10k-labels-idx1-ubyte"
    before = labels.stat().st_mtime_ns
    monkeypatch.setenv(MIRRORS_ENV, "file:///nonexistent/mirror/")
    download_split(source, tmp_path, "test")
    assert labels.stat().st_mtime_ns == before
    labels.write_bytes(b"")                     # a 0-byte file is not trusted because it exists:
    download_split(source, tmp_path, "test")    # it is extracted again from the archive beside it
    assert "is 0 bytes, not the published 11: fetching it again" in capsys.readouterr().err
    assert labels.read_bytes() == raw["t10k-labels-idx1-ubyte"]
    labels.write_bytes(b"")
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte.gz"):
        download_split(source, tmp_path, "test")
    monkeypatch.setenv(MIRRORS_ENV, mirror.as_uri())
    download_split(source, tmp_path, "test")
    assert labels.read_bytes() == raw["t10k-labels-idx1-ubyte"]


def test_a_changed_file_of_the_published_size_is_checked_again(tiny, tmp_path, monkeypatch):
    source, _, raw = tiny
    labels = download_split(source, tmp_path, "test") / "t10k-labels-idx1-ubyte"
    good = raw[labels.name]
    corrupt = good[:-1] + bytes([(good[-1] + 1) % 10])      # the same size, one label changed
    labels.write_bytes(corrupt)

    class Tiny(Mnist):
        SOURCE = source

    class TinyDataset(MnistDataset):
        SOURCE = source
    message = f"{labels} has MD5 {md5(corrupt)}, not the published {md5(good)}: it changed since it was downloaded"
    with pytest.raises(ChecksumMismatch, match=f"Tiny: {re.escape(message)}"):
        Tiny(tmp_path, split="test")
    with pytest.raises(ChecksumMismatch, match=f"TinyDataset: {re.escape(message)}"):
        TinyDataset(labels.parent, usage="test")
    monkeypatch.setenv(MIRRORS_ENV, "file:///nonexistent/mirror/")
    Tiny(tmp_path, split="test", download=True)             # extracted again from the archive beside it
    assert labels.read_bytes() == good
    # hashed once: while the size and mtime the marker records hold, the file is not read again
    before = labels.stat()
    labels.write_bytes(corrupt)
    os.utime(labels, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert Tiny(tmp_path, split="test", download=True).labels[-1] == corrupt[-1]


def gzip_bomb(megabytes):
    """A gzip file of `megabytes` MiB of zeros, a thousandth of that in size: one member repeated."""
    return gzip.compress(bytes(1 << 20)) * megabytes


def test_a_gzip_bomb_stops_at_the_published_size(tmp_path, monkeypatch, tmpfs):
    """The issue's case: a mirror serves MNIST's training images as a 400 MB gzip bomb (400 KB)."""
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    images = MNIST.splits["train"][0]
    (bombs / f"{images.name}.gz").write_bytes(gzip_bomb(400))
    monkeypatch.setenv(MNIST.mirrors_env, bombs.as_uri())
    disk = tmpfs(64)        # room for the published 47 MB, not for the bomb
    with pytest.raises(DownloadError) as info:
        download_split(MNIST, disk, "train")
    assert (f"{bombs.as_uri()}/{images.name}.gz: it decompresses to more than {images.size} bytes, the published "
            "size; stopped there") in str(info.value)
    assert os.listdir(disk / "train") == []


@contextlib.contextmanager
def plain_http_mirror(body):
    """A plain-HTTP mirror on 127.0.0.1 sending `body` for every file, without a Content-Length."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"           # the body ends when the connection closes

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(ConnectionError):      # the client stops reading early
                self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_download_stops_at_the_most_the_archive_can_be(tiny, tmp_path, monkeypatch):
    source, _, _ = tiny
    junk = np.random.default_rng(0).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "t10k-images-idx3-ubyte.gz").write_bytes(junk[:200_000])
    most = source.splits["test"][0].size * 101 // 100 + 65536
    with plain_http_mirror(junk) as http_mirror:
        monkeypatch.setenv(MIRRORS_ENV, f"{http_mirror} {(tmp_path / 'big').as_uri()}")
        with pytest.raises(DownloadError) as info:
            download_split(source, tmp_path / "data", "test")
    tried = str(info.value).splitlines()[1:3]
    assert tried == [f"  {(tmp_path / 'big').as_uri()}/t10k-images-idx3-ubyte.gz: it is 200000 bytes, more than "
                     f"the {most} its archive can be",      # said by the file's size, before reading it
                     f"  {http_mirror}t10k-images-idx3-ubyte.gz: it sent more bytes than the archive can be; "
                     "stopped there"]                       # plain HTTP last, and cut off as it streams
    assert os.listdir(tmp_path / "data" / "test") == []


def test_a_full_disk_is_reported_as_such_not_blamed_on_the_mirrors(tiny, monkeypatch, small_disk):
    source, mirror, _ = tiny
    (small_disk / "test").mkdir()
    fill(small_disk)
    with pytest.raises(DownloadError) as info:
        download_split(source, small_disk, "test")
    message = str(info.value)
    assert message.startswith(f"could not write Tiny's t10k-images-idx3-ubyte into {small_disk / 'test'}: No space "
                              f"left on device (while fetching {mirror.as_uri()}/t10k-images-idx3-ubyte.gz); free "
                              "space there, or pass another folder")
    assert "fix: set" not in message


@pytest.fixture
def bad_mirror(tmp_path, tiny):
    """A mirror whose test label archive is valid gzip of wrong data, and whose image archive is cut short."""
    _, mirror, raw = tiny
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    labels = bytearray(raw["t10k-labels-idx1-ubyte"])
    labels[9] = (labels[9] + 1) % 10
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    (bad / "t10k-images-idx3-ubyte.gz").write_bytes((mirror / "t10k-images-idx3-ubyte.gz").read_bytes()[:500])
    return bad


def test_a_corrupt_mirror_is_skipped(tmp_path, tiny, bad_mirror, monkeypatch):
    source, mirror, raw = tiny
    monkeypatch.setenv(MIRRORS_ENV, f"{bad_mirror.as_uri()}, file:///nonexistent {mirror.as_uri()}")
    download_split(source, tmp_path / "data", "test")
    for name in ("t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        assert (tmp_path / "data" / "test" / name).read_bytes() == raw[name]


def test_no_working_mirror_names_every_attempt_and_leaves_nothing(tmp_path, tiny, bad_mirror, monkeypatch):
    source, _, raw = tiny
    monkeypatch.setenv(MIRRORS_ENV, f"file:///nonexistent/ {bad_mirror.as_uri()}")
    with pytest.raises(DownloadError) as info:
        download_split(source, tmp_path / "data", "test")
    message = str(info.value)
    assert "could not get Tiny's t10k-images-idx3-ubyte.gz" in message
    assert "file:///nonexistent/t10k-images-idx3-ubyte.gz: " in message
    assert f"{bad_mirror.as_uri()}/t10k-images-idx3-ubyte.gz: Compressed file ended" in message
    assert f"fix: set {MIRRORS_ENV}" in message
    assert list((tmp_path / "data" / "test").iterdir()) == []
    # the label archive downloads fine from the bad mirror but fails its checksum
    monkeypatch.setenv(MIRRORS_ENV, bad_mirror.as_uri())
    images = source.splits["test"][0]
    (tmp_path / "data" / "test" / images.name).write_bytes(raw[images.name])  # the images are there
    expected = source.splits["test"][1].md5
    with pytest.raises(DownloadError, match=f"md5 of the uncompressed file is [0-9a-f]{{32}}, expected {expected}"):
        download_split(source, tmp_path / "data", "test")
    assert sorted(p.name for p in (tmp_path / "data" / "test").iterdir()) == [f".{images.name}.md5", images.name]


def test_mirror_lists_and_cache_folder(tiny, monkeypatch, tmp_path):
    source, _, _ = tiny
    monkeypatch.setenv(MIRRORS_ENV, " a/, b\tc,,d ")
    assert source.mirrors() == ["a/", "b", "c", "d"]
    monkeypatch.setenv(MIRRORS_ENV, "http://plain/ https://secure/ HTTP://shouting/ file:///local/")
    assert source.mirrors() == ["https://secure/", "file:///local/", "http://plain/", "HTTP://shouting/"]
    monkeypatch.delenv(MIRRORS_ENV)
    assert source.mirrors() == ["file:///nonexistent/public/"]
    for public in (MNIST, FASHION_MNIST):
        assert public.public_mirrors[0].startswith("https://"), "HTTPS mirrors come first"
        assert [file.size for file in public.splits["test"]] == [16 + 10000 * 784, 8 + 10000]
    monkeypatch.setenv("GRAPHC_DATA_DIR", str(tmp_path))
    assert FASHION_MNIST.default_root() == tmp_path / "fashion-mnist"
    monkeypatch.delenv("GRAPHC_DATA_DIR")
    assert MNIST.default_root().parts[-4:] == (".cache", "graphc", "datasets", "mnist")


def test_mnist_class_downloads_its_source(tiny, tmp_path):
    source, _, raw = tiny

    class Tiny(Mnist):
        SOURCE = source

    dataset = Tiny(tmp_path, split="train", batch_size=5, shuffle=False, download=True).run()
    images, labels = next(iter(dataset.create_tuple_iterator(output_numpy=True)))
    assert images.shape == (5, 1, 32, 32) and labels.tolist() == list(raw["train-labels-idx1-ubyte"][8:])
    with pytest.raises(FileNotFoundError, match="Tiny: .*t10k-images-idx3-ubyte does not exist; pass download=True"):
        Tiny(tmp_path / "elsewhere", split="test")
