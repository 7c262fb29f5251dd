"""mindspore.common.dtype (also `graphc.dtype`, as `from mindspore import dtype as mstype`): graphc.types."""
import graphc.types
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.types)

bool = graphc.types.bool_      # MindSpore 2.x's other spelling; graphc.types keeps Python's bool for itself
