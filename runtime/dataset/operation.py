"""What the built-in transforms (transforms, vision, text) have in common: MindSpore's two ways of
calling them.

- Eagerly, on one sample: `vision.Resize((32, 32))(image)` gives the resized image at once
  (MindSpore's eager mode). That is `__call__`.
- Inside `Dataset.map`, on many rows at once: `on_rows(*columns)` takes each input column with a
  leading row axis and returns the output columns the same way. The map stage calls it on whole
  in-memory columns, so a pipeline over a NumPy source stays vectorized.

A subclass defines `on_rows` only; `__call__` wraps the sample into a column of one row and unwraps
the result. Random transforms (`random = True`) take the generator to draw from as `rng=`: the map
stage hands them one derived from the dataset seed, the stage and the pass; called eagerly they
draw from the one given as `rng=`, else from one of their own, seeded from the dataset seed when
first used.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError
from runtime.dataset.pipeline import get_seed


class Transform:
    vectorized = True     # Dataset.map hands it whole columns, through on_rows()
    random = False
    _own_rng: np.random.Generator | None = None

    def on_rows(self, *columns: np.ndarray, rng: np.random.Generator | None = None):
        raise NotImplementedError

    def __call__(self, *samples, rng: np.random.Generator | None = None):
        options = {"rng": rng or self._eager_rng()} if self.random else {}
        results = self.on_rows(*(np.asarray(sample)[None] for sample in samples), **options)
        if isinstance(results, tuple):
            return tuple(result[0] for result in results)
        return results[0]

    def _eager_rng(self) -> np.random.Generator:
        if self._own_rng is None:
            self._own_rng = np.random.default_rng(get_seed())
        return self._own_rng



class DtypeError(GraphcError, TypeError):
    """Something given as a dtype is not one (a TypeError, as MindSpore raises)."""


def numpy_dtype(data_type, owner: str) -> np.dtype:
    """A NumPy dtype from a graphc dtype (graphc.int32), a NumPy one (np.int32) or a name ("int32")."""
    try:
        return np.dtype(getattr(data_type, "np", data_type))   # graphc's DType carries its NumPy dtype
    except TypeError:
        raise DtypeError(f"{owner}: {data_type!r} is not a dtype; use e.g. graphc.int32 or np.float32") from None
