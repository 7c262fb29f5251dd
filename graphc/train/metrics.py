"""mindspore.train.metrics: runtime.metrics."""
import runtime.metrics
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.metrics)
