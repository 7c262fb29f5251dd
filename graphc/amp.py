"""mindspore.amp: mixed precision (graphc.nn.amp: auto_mixed_precision, build_train_network, the
white and black lists) and the loss-scale managers (graphc.nn.loss_scale)."""
import graphc.nn.amp
import graphc.nn.loss_scale
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.nn.amp, graphc.nn.loss_scale)
