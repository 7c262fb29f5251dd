"""The training runtime around graphc (MindSpore-style): Model, callbacks, metrics, datasets, checkpoints.

As `import mindspore` makes `mindspore.dataset` reachable, `import runtime` makes `runtime.dataset`,
`runtime.callbacks` and `runtime.metrics` reachable as attributes.
"""
import os

from graphc.errors import add_library_package

add_library_package(os.path.dirname(__file__))     # errors raised in the runtime name the user's line

from . import callbacks, dataset, metrics  # noqa: E402
from .model import Model  # noqa: E402
from .callbacks import CheckpointConfig, ModelCheckpoint  # noqa: E402
from .checkpoint import load_checkpoint, load_param_into_net, save_checkpoint  # noqa: E402
from .summary import SummaryRecord  # noqa: E402

__all__ = ["CheckpointConfig", "Model", "ModelCheckpoint", "callbacks", "dataset", "load_checkpoint",
           "load_param_into_net", "metrics", "save_checkpoint", "SummaryRecord"]
