"""mindspore.train: Model, the checkpoint functions, the callbacks and the metrics of the runtime
(MindSpore's top level holds the same names: `graphc.Model`, `graphc.LossMonitor`, ...)."""
import runtime
import runtime.callbacks
import runtime.metrics
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime, runtime.callbacks, runtime.metrics)
