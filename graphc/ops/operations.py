"""mindspore.ops.operations (`from mindspore.ops import operations as P`): graphc.ops, whose primitive
classes (ops.Add, ops.ReduceMean, ...) are MindSpore's."""
import graphc.ops
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.ops)
