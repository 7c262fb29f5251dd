"""graphc: trace MindSpore-style networks into graphs, optimise them, and run them natively."""
from . import ops
from .context import GRAPH_MODE, PYNATIVE_MODE, ParallelMode, get_auto_parallel_context, get_context, \
    get_seed, reset_auto_parallel_context, set_auto_parallel_context, set_context, set_seed
from .errors import GraphcError
from .faces import lookup as _lookup
from .tracing import Tensor, tensor
from .sparse import COOTensor, CSRTensor, RowTensor
from .types import bfloat16, bool_, float16, float32, float64, int32, int64
from .nn.parameter import Parameter, ParameterTuple
from .jit import jit
from .profiler import Profiler
from . import nn
from .autodiff import grad, value_and_grad
from . import communication, loop_ops, models
# MindSpore's `mindspore.export` is a function; the package of the formats stays importable by its
# path (`from graphc.export.shared_library import ...`: sys.modules holds it)
from .export import export

# MindSpore keeps GradOperation and grad (of the autodiff layer), the stateful Dropout primitive,
# the loop primitives (which trace their bodies) and the functional losses (which check label values
# they are given) in `ops` beside the primitives; the registry below the front end cannot import
# them, so the package puts them there.
ops.GradOperation = nn.GradOperation
ops.grad, ops.value_and_grad = grad, value_and_grad     # MindSpore 2.x's functions; the IR op is ops.get("grad")
ops.Dropout, ops.Dropout2D = nn.stateful_ops.Dropout, nn.stateful_ops.Dropout2D
ops.WhileLoop, ops.ForiLoop, ops.Scan = loop_ops.WhileLoop, loop_ops.ForiLoop, loop_ops.Scan
for _name in nn.loss.FUNCTIONAL:
    setattr(ops, _name, getattr(nn.loss, _name))


def load(file_name, **kwargs):
    """MindSpore's `load`: the graph in a MINDIR file (written by mindspore.export or graphc's), to run
    with `nn.GraphCell(graph)`. graphc takes no decryption or obfuscation arguments."""
    if kwargs:
        raise GraphcError(f"graphc.load takes only file_name, got {', '.join(sorted(kwargs))} (encrypted or "
                          "obfuscated MindIR files are not supported)")
    from .export.mindir import load_mindir      # the file format's code loads on first use
    return load_mindir(file_name)


# MindSpore's subpackages (graphc.dataset, graphc.train, graphc.amp, ...) are faces, imported on first use
# (graphc itself never imports the runtime); its top level also holds mindspore.common's names (dtype, ...)
# and mindspore.train's (Model, save_checkpoint, LossMonitor, ...).
__getattr__ = _lookup(__name__, "graphc.common", "graphc.train")

__all__ = ["COOTensor", "CSRTensor", "GRAPH_MODE", "PYNATIVE_MODE", "GraphcError", "ParallelMode", "Parameter",
           "ParameterTuple", "RowTensor", "Tensor",
           "bfloat16", "bool_", "communication", "export", "float16", "float32", "float64",
           "get_auto_parallel_context", "get_context", "get_seed",
           "grad", "int32", "int64", "jit", "load", "models", "nn", "ops", "reset_auto_parallel_context",
           "set_auto_parallel_context", "set_context", "set_seed", "tensor", "value_and_grad"]
__version__ = "0.1.0"
