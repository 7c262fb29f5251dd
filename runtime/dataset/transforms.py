"""Transforms that are not about images (mindspore.dataset.transforms): TypeCast."""
from __future__ import annotations

import numpy as np


class TypeCast:
    """Cast a column to a dtype: a graphc dtype (graphc.int32), a NumPy one (np.int32, "int32")."""

    vectorized = True

    def __init__(self, data_type):
        try:
            self.dtype = np.dtype(getattr(data_type, "np", data_type))   # graphc's DType carries its NumPy dtype
        except TypeError:
            raise TypeError(f"TypeCast: {data_type!r} is not a dtype; use e.g. graphc.int32 or np.float32") from None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values).astype(self.dtype)
