"""mindspore.experimental.optim: the optimizers configured by param_groups
(graphc.nn.optim.experimental) and `lr_scheduler` (a face: docs/architecture.md)."""
import graphc.nn.optim.experimental
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.nn.optim.experimental)
