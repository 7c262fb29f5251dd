"""mindspore.train: Model, the checkpoint functions, the callbacks and the metrics of the runtime
and the loss-scale managers (MindSpore's top level holds the same names: `graphc.Model`,
`graphc.LossMonitor`, ...)."""
import graphc.nn.loss_scale
import runtime
import runtime.callbacks
import runtime.metrics
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime, runtime.callbacks, runtime.metrics, graphc.nn.loss_scale)
