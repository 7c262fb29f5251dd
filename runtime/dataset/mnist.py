"""mindvision's `Mnist` (and `FashionMnist`, the same layout): load (and optionally download), then
map, batch and repeat.

`Mnist(path, split).run()` gives the pipeline mindvision builds: columns "image" (float32,
(1, 32, 32) after the default transform) and "label" (int32), batched with drop_remainder=True,
then repeated; 60000 / 32 = 1875 training batches per epoch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from runtime.dataset.checksum import DataFile, check_fetched
from runtime.dataset.download import FASHION_MNIST, MNIST, DataSource, download_split
from runtime.dataset.idx import read_idx
from runtime.dataset.pipeline import Dataset
from runtime.dataset.sources import NumpySlicesDataset
from runtime.dataset.vision import HWC2CHW, Rescale, Resize

SPLITS = ("train", "test", "infer")


class Mnist:
    """The MNIST dataset under `path`, in the layout `<path>/{train,test}/<IDX files>`.

    split="infer" reads the images of `path` when it is an IDX image file, else of the test split;
    its "label" column holds each image's index (as mindvision's infer split does). It cannot
    download. The data is read when the object is made; `run()` builds a fresh pipeline each call.
    """
    SOURCE: DataSource = MNIST
    MEAN, STD = 0.1307, 0.3081   # of the training images scaled to [0, 1]

    def __init__(self, path: str | Path, split: str = "train", transform: Callable | Sequence[Callable] | None = None,
                 target_transform: Callable | Sequence[Callable] | None = None, batch_size: int = 32,
                 repeat_num: int = 1, shuffle: bool | None = None, num_parallel_workers: int = 1,
                 num_shards: int | None = None, shard_id: int | None = None,
                 resize: int | tuple[int, int] = 32, download: bool = False):
        if split not in SPLITS:
            raise ValueError(f"{self._name}: split must be one of {SPLITS}, got {split!r}")
        if split == "infer" and download:
            raise ValueError(f"{self._name}: download is not supported for split='infer'; "
                             f"download the 'test' split first")
        self.path, self.split = Path(path).expanduser(), split
        self.transform, self.target_transform = transform, target_transform
        self.batch_size, self.repeat_num, self.shuffle = batch_size, repeat_num, shuffle
        self.num_shards, self.shard_id, self.resize = num_shards, shard_id, resize
        if download:
            download_split(self.SOURCE, self.path, split)
        self.images, self.labels = self._load()

    def default_transform(self) -> list[Callable]:
        """Resize, scale to [0, 1], normalize with the training images' mean and std, HWC -> CHW."""
        return [Resize(self.resize), Rescale(1.0 / 255.0, 0.0), Rescale(1 / self.STD, -self.MEAN / self.STD),
                HWC2CHW()]

    @property
    def _name(self) -> str:
        return type(self).__name__

    def run(self) -> Dataset:
        dataset = NumpySlicesDataset({"image": self.images, "label": self.labels}, shuffle=self.shuffle,
                                     num_shards=self.num_shards, shard_id=self.shard_id)
        dataset = dataset.map(self.transform or self.default_transform(), input_columns="image")
        if self.target_transform:
            dataset = dataset.map(self.target_transform, input_columns="label")
        return dataset.batch(self.batch_size, drop_remainder=True).repeat(self.repeat_num)

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        """Images as uint8 (N, H, W, 1) and int32 labels."""
        if self.split == "infer":
            published = self.SOURCE.splits["test"][0]
            image_file = self.path if self.path.is_file() else self.path / "test" / published.name
            images = read_idx(self._existing(image_file, published), ndim=3)
            return images[..., None], np.arange(len(images), dtype=np.int32)
        image, label = self.SOURCE.splits[self.split]
        image_file, label_file = self.path / self.split / image.name, self.path / self.split / label.name
        images = read_idx(self._existing(image_file, image), ndim=3)
        labels = read_idx(self._existing(label_file, label), ndim=1).astype(np.int32)
        if len(images) != len(labels):
            raise ValueError(f"{self._name}: {image_file} has {len(images)} images but {label_file} has "
                             f"{len(labels)} labels; download the split again")
        return images[..., None], labels

    def _existing(self, path: Path, published: DataFile) -> Path:
        if not path.is_file():
            raise FileNotFoundError(f"{self._name}: {path} does not exist; pass download=True, or put the "
                                    f"{self.SOURCE.name} files in the layout <path>/train/train-images-idx3-ubyte, ...")
        check_fetched(path, published, self._name)
        return path


class FashionMnist(Mnist):
    """Fashion-MNIST (Zalando): MNIST's layout, file names and sizes, with clothing in 10 classes."""
    SOURCE = FASHION_MNIST
    MEAN, STD = 0.2860, 0.3530
