"""mindspore.dataset.transforms.c_transforms, r1.x's name for the transforms: runtime.dataset.transforms."""
import runtime.dataset.transforms
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset.transforms)
