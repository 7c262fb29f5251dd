"""The training runtime around graphc (MindSpore-style): Model, callbacks, metrics, datasets, checkpoints."""
from .model import Model
from .callbacks import CheckpointConfig, ModelCheckpoint
from .checkpoint import load_checkpoint, load_param_into_net, save_checkpoint

__all__ = ["CheckpointConfig", "Model", "ModelCheckpoint", "load_checkpoint", "load_param_into_net",
           "save_checkpoint"]
