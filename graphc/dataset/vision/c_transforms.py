"""mindspore.dataset.vision.c_transforms, r1.x's name for the vision transforms: runtime.dataset.vision."""
import runtime.dataset.vision
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset.vision)
