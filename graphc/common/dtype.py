"""mindspore.common.dtype (also `graphc.dtype`, as `from mindspore import dtype as mstype`): graphc.types."""
import graphc.types
from graphc.faces import face
from graphc.types import bool_ as bool  # noqa: A004  (MindSpore 2.x's other spelling, mindspore.bool)

__getattr__, __dir__ = face(__name__, graphc.types)
