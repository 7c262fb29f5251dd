"""The training runtime around graphc (MindSpore-style): Model, callbacks, metrics, datasets, checkpoints.

As `import mindspore` makes `mindspore.dataset` reachable, `import runtime` makes `runtime.dataset`,
`runtime.callbacks` and `runtime.metrics` reachable as attributes.
"""
from . import callbacks, dataset, metrics
from .model import Model
from .callbacks import CheckpointConfig, ModelCheckpoint
from .checkpoint import load_checkpoint, load_param_into_net, save_checkpoint

__all__ = ["CheckpointConfig", "Model", "ModelCheckpoint", "callbacks", "dataset", "load_checkpoint",
           "load_param_into_net", "metrics", "save_checkpoint"]
