"""mindspore.dataset's MnistDataset and FashionMnistDataset: the uncompressed IDX files of one
directory (as MindSpore reads them, e.g. `MNIST_Data/train`), as the columns "image" (uint8,
(28, 28, 1) per row) and "label" (uint32). One class, told which files to read by its DataSource.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from graphc.errors import ArgumentError

from .checksum import check_fetched
from .download import FASHION_MNIST, MNIST, DataSource
from .idx import read_idx
from .sources import NumpySlicesDataset

USAGES = ("train", "test", "all")


class MnistDataset(NumpySlicesDataset):
    """`usage` 'train' or 'test' reads that split's two files; 'all' (or None) reads every split whose
    files are in the directory, train first. shuffle=None shuffles (a random-access source);
    num_samples keeps that many rows of each pass (of this shard); a sampler picks the rows instead;
    cache is refused."""
    SOURCE: DataSource = MNIST

    def __init__(self, dataset_dir: str | Path, usage: str | None = None, num_samples: int | None = None,
                 num_parallel_workers: int | None = None, shuffle: bool | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None, cache=None):
        name = type(self).__name__
        if usage not in (*USAGES, None):
            raise ArgumentError(f"{name}: usage must be one of {USAGES} (or None: all), got {usage!r}")
        if cache is not None:
            raise ArgumentError(f"{name}: cache is not supported (graphc keeps the images in memory); leave it out")
        directory = Path(dataset_dir).expanduser()
        if not directory.is_dir():
            raise ArgumentError(f"{name}: {directory} is not a directory; give the folder holding the IDX files "
                                f"(such as {self.SOURCE.splits['train'][0].name})")
        splits = [s for s in self.SOURCE.splits if usage in (s, "all", None)]
        present = [s for s in splits if all((directory / f.name).is_file() for f in self.SOURCE.splits[s])]
        if not present or (usage in self.SOURCE.splits and present != [usage]):
            expected = ", ".join(f.name for s in splits for f in self.SOURCE.splits[s])
            raise ArgumentError(f"{name}: {directory} lacks the {self.SOURCE.name} files for usage={usage!r}: "
                                f"{expected}; download them (runtime.dataset.download_split) or point at their folder")
        images, labels = zip(*(read_split(directory, self.SOURCE, s, name) for s in present))
        super().__init__({"image": np.concatenate(images), "label": np.concatenate(labels)}, shuffle=shuffle,
                         sampler=sampler, num_shards=num_shards, shard_id=shard_id, num_samples=num_samples)


class FashionMnistDataset(MnistDataset):
    """Fashion-MNIST's IDX files (the same names and layout as MNIST's)."""
    SOURCE = FASHION_MNIST


def read_split(directory: Path, source: DataSource, split: str, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's images, uint8 (N, 28, 28, 1), and labels, uint32, checked to be as many."""
    image_file, label_file = (directory / f.name for f in source.splits[split])
    for path, published in zip((image_file, label_file), source.splits[split]):
        check_fetched(path, published, owner)
    images, labels = read_idx(image_file, ndim=3), read_idx(label_file, ndim=1)
    if len(images) != len(labels):
        raise ArgumentError(f"{owner}: {image_file} has {len(images)} images but {label_file} has {len(labels)} "
                            "labels; download the split again")
    return images[..., None], labels.astype(np.uint32)
