"""mindspore.experimental.optim.lr_scheduler (graphc.nn.optim.lr_scheduler; a face: docs/architecture.md)."""
import graphc.nn.optim.lr_scheduler
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.nn.optim.lr_scheduler)
