"""mindspore.amp: the loss-scale managers (graphc.nn.loss_scale); mixed precision itself is not
there yet, so its other names raise MissingApiError."""
import graphc.nn.loss_scale
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.nn.loss_scale)
