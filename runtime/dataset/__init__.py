"""Datasets: MindSpore-style pipelines, vision transforms, and mindvision's Mnist."""
from runtime.dataset.download import DownloadError, download_mnist
from runtime.dataset.idx import IdxFormatError, read_idx
from runtime.dataset.mnist import Mnist
from runtime.dataset.pipeline import (Dataset, DatasetIterator, GeneratorDataset, NumpySlicesDataset, get_seed,
                                      set_seed)
from runtime.dataset.vision import HWC2CHW, Rescale, Resize, TypeCast

__all__ = [
    "Dataset", "DatasetIterator", "DownloadError", "GeneratorDataset", "HWC2CHW", "IdxFormatError", "Mnist",
    "NumpySlicesDataset", "Rescale", "Resize", "TypeCast", "download_mnist", "get_seed", "read_idx", "set_seed",
]
