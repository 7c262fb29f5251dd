"""Transforms that are not about images (mindspore.dataset.transforms): Compose, TypeCast, OneHot,
Fill, PadEnd and Duplicate. Each works on one sample when called (MindSpore's eager
mode) and on whole columns inside Dataset.map (operation.py)."""
from __future__ import annotations

import numbers
from typing import Callable, Sequence

import numpy as np

from graphc.errors import ArgumentError
from runtime.dataset.operation import Transform, numpy_dtype


class Compose:
    """Several transforms as one: called, it applies them in order (a transform returning several
    values hands them all to the next); in Dataset.map it stands for its transforms, in order."""
    composed = True

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms) if isinstance(transforms, (list, tuple)) else [transforms]
        if not self.transforms or not all(callable(t) for t in self.transforms):
            raise ArgumentError(f"Compose: transforms must be a non-empty list of callables, got {transforms!r}")

    def __call__(self, *values):
        for transform in self.transforms:
            result = transform(*values)
            values = result if isinstance(result, tuple) else (result,)
        return values[0] if len(values) == 1 else values


class TypeCast(Transform):
    """Cast to a dtype: a graphc dtype (graphc.int32), a NumPy one (np.int32) or its name ("int32")."""

    def __init__(self, data_type):
        self.dtype = numpy_dtype(data_type, "TypeCast")

    def on_rows(self, values, rng=None):
        return np.asarray(values).astype(self.dtype)


class OneHot(Transform):
    """Class indices (ints, any shape) -> one-hot vectors of `num_classes`, a new last axis, in the
    indices' dtype; with `smoothing_rate` the 1 becomes 1 - rate + rate / num_classes and the 0s
    rate / num_classes, in float64 (as MindSpore gives)."""

    def __init__(self, num_classes: int, smoothing_rate: float = 0.0):
        if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < 1:
            raise ArgumentError(f"OneHot: num_classes must be a positive int, got {num_classes!r}")
        if not 0.0 <= smoothing_rate <= 1.0:
            raise ArgumentError(f"OneHot: smoothing_rate must be in [0, 1], got {smoothing_rate!r}")
        self.num_classes, self.smoothing_rate = int(num_classes), float(smoothing_rate)

    def on_rows(self, labels, rng=None):
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ArgumentError(f"OneHot: the labels must be ints, got {labels.dtype}; cast them with TypeCast")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ArgumentError(f"OneHot: label {labels.max() if labels.max() >= self.num_classes else labels.min()} "
                                f"is outside [0, {self.num_classes}); raise num_classes or fix the labels")
        hot = labels[..., None] == np.arange(self.num_classes)
        if not self.smoothing_rate:
            return hot.astype(labels.dtype)
        off = self.smoothing_rate / self.num_classes
        return np.where(hot, 1.0 - self.smoothing_rate + off, off)


class Fill(Transform):
    """Every element set to `fill_value`, keeping the shape and dtype."""

    def __init__(self, fill_value):
        self.fill_value = fill_value

    def on_rows(self, values, rng=None):
        values = np.asarray(values)
        return np.full(values.shape, self.fill_value, dtype=values.dtype if values.dtype.kind != "U" else None)


class PadEnd(Transform):
    """Pad each axis at its end to `pad_shape` with `pad_value` (default 0, or "" for strings), or cut
    it there when longer."""

    def __init__(self, pad_shape: Sequence[int], pad_value=None):
        self.pad_shape = tuple(pad_shape) if isinstance(pad_shape, (list, tuple)) else None
        if not self.pad_shape or not all(isinstance(n, numbers.Integral) and n > 0 for n in self.pad_shape):
            raise ArgumentError(f"PadEnd: pad_shape must be a list of positive ints, got {pad_shape!r}")
        self.pad_value = pad_value

    def on_rows(self, values, rng=None):
        values = np.asarray(values)
        if values.ndim - 1 != len(self.pad_shape):
            raise ArgumentError(f"PadEnd: pad_shape {list(self.pad_shape)} has {len(self.pad_shape)} axes but the "
                                f"value has {values.ndim - 1} (shape {values.shape[1:]}); give one size per axis")
        string = values.dtype.kind in "US"
        pad_value = self.pad_value if self.pad_value is not None else ("" if string else 0)
        dtype = np.result_type(values, np.asarray(pad_value)) if string else values.dtype
        out = np.full((len(values), *self.pad_shape), pad_value, dtype=dtype)
        kept = (slice(None),) + tuple(slice(0, min(n, size)) for n, size in zip(values.shape[1:], self.pad_shape))
        out[kept] = values[kept]
        return out


class Duplicate(Transform):
    """The value and a copy of it: two output columns (name them with map's output_columns)."""

    def on_rows(self, values, rng=None):
        values = np.asarray(values)
        return values, values.copy()

