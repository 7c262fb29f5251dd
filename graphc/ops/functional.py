"""mindspore.ops.functional (`from mindspore.ops import functional as F`): graphc.ops, whose functions
(ops.reshape, ops.depend, ...) are MindSpore's functional ops."""
import graphc.ops
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.ops)
