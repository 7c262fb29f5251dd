"""mindspore.common: Tensor, Parameter, the dtypes and the seed; `graphc.common.dtype` and
`graphc.common.initializer` are its submodules (a face: docs/architecture.md)."""
from graphc.context import get_seed, set_seed
from graphc.faces import lookup
from graphc.nn.parameter import Parameter, ParameterTuple
from graphc.sparse import COOTensor, CSRTensor, RowTensor
from graphc.tracing import Tensor
from graphc.types import bfloat16, bool_, float16, float32, float64, int32, int64
from graphc.types import bool_ as bool  # noqa: A004  (MindSpore 2.x's other spelling, mindspore.bool)

__all__ = ["COOTensor", "CSRTensor", "Parameter", "ParameterTuple", "RowTensor", "Tensor", "bfloat16", "bool", "bool_",
           "float16", "float32", "float64", "get_seed", "int32", "int64", "set_seed"]
__getattr__ = lookup(__name__)
