"""mindvision.dataset (Mnist, FashionMnist): runtime.dataset."""
import runtime.dataset
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset)
