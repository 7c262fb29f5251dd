"""mindspore.dataset.vision: runtime.dataset.vision."""
import runtime.dataset.vision
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset.vision)
