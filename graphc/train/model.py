"""mindspore.train.model: Model (runtime.model)."""
import runtime.model
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.model)
