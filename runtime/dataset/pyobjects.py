"""Python dicts as column values, as MindSpore 2.x passes them through a pipeline.

A dict value (its leaves turned into arrays, nested dicts kept) is stored as a 0-d object array, so
a column of them is an object array with the usual leading row axis and the stages index, shuffle
and concatenate it like any other. A pyfunc map receives the dict itself; batch stacks each leaf
over the batch's rows (a per_batch_map's dict stands for the whole batch, without a row axis);
iterators hand out the dict, its leaves Tensors unless output_numpy.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from graphc.errors import ArgumentError


def is_dict_column(array: np.ndarray) -> bool:
    return array.dtype == object


def is_batch_dict(array: np.ndarray) -> bool:
    """A dict that per_batch_map gave for a whole batch: a 0-d object array, without a row axis."""
    return is_dict_column(array) and array.ndim == 0


def dicts_column(dicts: list[dict]) -> np.ndarray:
    """A column of one dict per row (NumpySlicesDataset given a list of dicts), leaves as arrays."""
    column = np.empty(len(dicts), dtype=object)
    column[:] = [_with_array_leaves(d) for d in dicts]
    return column


def dict_value(value: dict) -> np.ndarray:
    """value as a 0-d object array holding a dict whose leaves are arrays (a number becomes a 0-d array)."""
    holder = np.empty((), dtype=object)
    holder[()] = _with_array_leaves(value)
    return holder


def _with_array_leaves(value):
    if isinstance(value, dict):
        return {key: _with_array_leaves(leaf) for key, leaf in value.items()}
    return np.asarray(value)


def batch_value(name: str, column: np.ndarray) -> dict:
    """A batched dict column as one dict: per_batch_map's dict, or the rows' dicts stacked."""
    return column.item() if is_batch_dict(column) else stacked("batch", name, column)


def stacked(owner: str, name: str, dicts) -> dict:
    """One dict from the rows' dicts of a batch: each value stacked over the rows. As in MindSpore's
    batch, the rows' dicts must have the same keys, each value one shape, and none a dict."""
    dicts = list(dicts)
    keys = list(dicts[0])
    if any(list(d) != keys for d in dicts):
        raise ArgumentError(f"{owner}: the dicts in column {name!r} have different keys "
                            f"{sorted({tuple(d) for d in dicts})}; give every row's dict the same keys to batch them")
    result = {}
    for key in keys:
        leaves = [d[key] for d in dicts]
        if any(isinstance(leaf, dict) for leaf in leaves):
            raise ArgumentError(f"{owner}: {name}[{key!r}] holds a dict, which batch cannot stack (MindSpore's "
                                "batch neither); flatten it with a map before batching, or build the batch's value "
                                "in a per_batch_map")
        try:
            result[key] = np.stack(leaves)
        except ValueError:
            raise ArgumentError(f"{owner}: the values of {name}[{key!r}] have different shapes "
                                f"{sorted({np.shape(leaf) for leaf in leaves})}; make them equal (for example with a "
                                "map) before batching") from None
    return result


def leaves_mapped(value: dict, convert: Callable) -> dict:
    """value with convert applied to each leaf (an iterator's Tensor wrapping)."""
    return {key: leaves_mapped(leaf, convert) if isinstance(leaf, dict) else convert(leaf)
            for key, leaf in value.items()}
