"""MindSpore 2.x's functional API, `ops.<function>` with MindSpore's positional and keyword
parameters, defaults and result dtypes. Each function is a thin composition of registered ops;
`graphc.ops` exports these over the registry's ops of the same name (`ops.reshape(x, (2, 3))` is
MindSpore's function; the op is `ops.get("reshape")`). A bad argument names the function, the
parameter and what was given (arguments.py)."""
from .array_func import *  # noqa: F401,F403
from .math_func import *  # noqa: F401,F403
from .nn_func import *  # noqa: F401,F403
from .random_func import *  # noqa: F401,F403
from . import array_func, math_func, nn_func, random_func

__all__ = sorted({*array_func.__all__, *math_func.__all__, *nn_func.__all__,
                  *random_func.__all__} - {"constant", "move_axis"})
