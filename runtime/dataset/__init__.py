"""Datasets: MindSpore-style pipelines, vision transforms, and mindvision's Mnist and FashionMnist."""
from runtime.dataset.download import (FASHION_MNIST, MNIST, DataSource, DownloadError, download_mnist,
                                      download_split)
from runtime.dataset.idx import IdxFormatError, read_idx
from runtime.dataset.mnist import FashionMnist, Mnist
from runtime.dataset.pipeline import (Dataset, DatasetIterator, GeneratorDataset, NumpySlicesDataset, get_seed,
                                      set_seed)
from runtime.dataset.vision import HWC2CHW, Rescale, Resize, TypeCast

__all__ = [
    "FASHION_MNIST", "MNIST", "DataSource", "Dataset", "DatasetIterator", "DownloadError", "FashionMnist",
    "GeneratorDataset", "HWC2CHW", "IdxFormatError", "Mnist", "NumpySlicesDataset", "Rescale", "Resize", "TypeCast",
    "download_mnist", "download_split", "get_seed", "read_idx", "set_seed",
]
