"""mindspore.dataset: runtime.dataset (GeneratorDataset, MnistDataset, config, ...)."""
import runtime.dataset
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset)
