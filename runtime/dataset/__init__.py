"""Datasets: MindSpore-style pipelines, samplers, transforms (general, vision, text), and mindvision's
Mnist and FashionMnist."""
from runtime.dataset.download import (FASHION_MNIST, MNIST, DataSource, DownloadError, download_mnist,
                                      download_split)
from runtime.dataset.idx import IdxFormatError, read_idx
from runtime.dataset.mindrecord import MindDataset
from runtime.dataset.mnist import FashionMnist, Mnist
from runtime.dataset.mnist_dataset import FashionMnistDataset, MnistDataset
from runtime.dataset.pipeline import BatchInfo, Dataset, DatasetIterator, get_seed, set_seed
from runtime.dataset.samplers import (DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                                      SubsetRandomSampler, SubsetSampler, WeightedRandomSampler)
from runtime.dataset.sources import GeneratorDataset, NumpySlicesDataset
from runtime.dataset.stages import zip_datasets as zip  # mindspore.dataset.zip
from runtime.dataset.transforms import TypeCast
from runtime.dataset.vision import (HWC2CHW, Inter, Normalize, RandomCrop, RandomHorizontalFlip, Rescale,
                                    Resize)
from runtime.dataset import config, mindrecord, text, transforms, vision

__all__ = [
    "FASHION_MNIST", "MNIST", "BatchInfo", "DataSource", "Dataset", "DatasetIterator", "DistributedSampler",
    "DownloadError", "FashionMnist", "FashionMnistDataset", "GeneratorDataset", "HWC2CHW", "IdxFormatError", "Inter",
    "MindDataset", "Mnist", "MnistDataset", "Normalize", "NumpySlicesDataset", "RandomCrop", "RandomHorizontalFlip",
    "RandomSampler", "Rescale", "Resize", "Sampler", "SequentialSampler", "SubsetRandomSampler", "SubsetSampler",
    "TypeCast", "WeightedRandomSampler", "config", "download_mnist", "download_split", "get_seed", "mindrecord",
    "read_idx", "set_seed", "text", "transforms", "vision", "zip",
]
