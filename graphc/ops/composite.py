"""mindspore.ops.composite (`from mindspore.ops import composite as C`): graphc.ops, which holds
GradOperation beside the primitives."""
import graphc.ops
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.ops)
