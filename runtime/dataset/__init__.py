"""Datasets: MindSpore-style pipelines, vision transforms, and mindvision's Mnist and FashionMnist."""
from runtime.dataset.download import (FASHION_MNIST, MNIST, DataSource, DownloadError, download_mnist,
                                      download_split)
from runtime.dataset.idx import IdxFormatError, read_idx
from runtime.dataset.mnist import FashionMnist, Mnist
from runtime.dataset.mnist_dataset import FashionMnistDataset, MnistDataset
from runtime.dataset.pipeline import (BatchInfo, Dataset, DatasetIterator, GeneratorDataset, NumpySlicesDataset,
                                      get_seed, set_seed)
from runtime.dataset.stages import zip_datasets as zip  # mindspore.dataset.zip
from runtime.dataset.transforms import TypeCast
from runtime.dataset.vision import (HWC2CHW, Inter, Normalize, RandomCrop, RandomHorizontalFlip, Rescale,
                                    Resize)
from runtime.dataset import config, transforms, vision

__all__ = [
    "FASHION_MNIST", "MNIST", "BatchInfo", "DataSource", "Dataset", "DatasetIterator", "DownloadError",
    "FashionMnist", "FashionMnistDataset", "GeneratorDataset", "HWC2CHW", "IdxFormatError", "Inter", "Mnist",
    "MnistDataset", "Normalize", "NumpySlicesDataset", "RandomCrop", "RandomHorizontalFlip", "Rescale", "Resize",
    "TypeCast", "download_mnist", "download_split", "config", "get_seed", "read_idx", "set_seed", "transforms",
    "vision", "zip",
]
