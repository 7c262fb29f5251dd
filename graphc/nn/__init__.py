"""Layers, losses, optimizers and wrapper cells with MindSpore's names and defaults."""
from .cell import Cell
from .parameter import Parameter, ParameterTuple
from .grad_operation import GradOperation
from .init import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .wrap import *  # noqa: F401,F403
from .loss_scale import *  # noqa: F401,F403
from .distributed import DistributedGradReducer
from .graph_cell import GraphCell
from . import stateful_ops  # ops.Dropout, put into graphc.ops by the package
from ..faces import lookup as _lookup

__getattr__ = _lookup(__name__, "graphc.nn.metrics")     # nn.Accuracy, ...: the runtime's metrics, on first use
