"""Parameter: a named, persistent Tensor that training updates in place."""
from __future__ import annotations

import numpy as np

from ..tracing import Tensor

ALIGNMENT = 64   # bytes; native kernels declare their pointers `align 64`


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of array whose data starts on a 64-byte boundary."""
    array = np.asarray(array)
    raw = np.empty(array.nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    out = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


class Parameter(Tensor):
    """A Tensor registered with a Cell. Its storage is stable: `set_data` copies into it, so
    compiled steps that hold its address keep seeing the current value."""
    is_parameter = True

    def __init__(self, default_input, name: str | None = None, requires_grad: bool = True):
        super().__init__(default_input)
        self._data = aligned_copy(self._data)
        self.name = name
        self.requires_grad = requires_grad

    @property
    def data(self) -> "Parameter":
        return self

    def set_data(self, data) -> "Parameter":
        value = data.asnumpy() if isinstance(data, Tensor) else np.asarray(data)
        if value.shape != self._data.shape:
            raise ValueError(f"Parameter {self.name!r}: set_data with shape {list(value.shape)}, "
                             f"expected {list(self._data.shape)}")
        self._data[...] = value.astype(self._data.dtype, copy=False)
        return self

    def clone(self, prefix: str, init: str | float = "same") -> "Parameter":
        """A new Parameter named `<prefix>.<name>`, e.g. optimizer state `moments.fc1.weight`."""
        value = self._data if init == "same" else np.full_like(self._data, {"zeros": 0, "ones": 1}.get(init, init))
        return Parameter(value, name=f"{prefix}.{self.name}", requires_grad=False)

    def __repr__(self) -> str:
        return f"Parameter (name={self.name}, shape={self.shape}, dtype={self.dtype.name}, " \
               f"requires_grad={self.requires_grad})"

    def __hash__(self):
        return id(self)




class ParameterTuple(tuple):
    """MindSpore's ParameterTuple: an immutable tuple of distinct Parameters, e.g.
    `ParameterTuple(net.trainable_params())`, the weights GradOperation(get_by_list=True) takes."""

    def __new__(cls, iterable=()):
        params = tuple(iterable)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"ParameterTuple holds Parameters only, got a {type(p).__name__}")
        names = [p.name for p in params]
        repeated = sorted({n for n in names if n is not None and names.count(n) > 1})
        if repeated:
            raise ValueError(f"ParameterTuple: the name(s) {', '.join(map(repr, repeated))} appear more than once")
        return super().__new__(cls, params)

    def clone(self, prefix: str, init: str | float = "same") -> "ParameterTuple":
        """Copies named `<prefix>.<name>`, as optimizer state is (init: 'same', 'zeros', 'ones' or a number)."""
        return ParameterTuple(p.clone(prefix, init) for p in self)
