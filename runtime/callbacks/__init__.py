"""Training callbacks, where `mindspore.train.callback` users look for them: the protocol
(Callback, RunContext, CallbackList), the monitors, checkpoints, and the callbacks that steer
training. Model enters the callbacks it is given as context managers and calls their hooks in
MindSpore's order (see base.py)."""
from .base import HOOKS, Callback, CallbackList, CallbackParams, RunContext, loss_value
from .checkpoint import CheckpointConfig, ModelCheckpoint
from .control import EarlyStopping, LambdaCallback, LearningRateScheduler, ReduceLROnPlateau
from .monitors import History, LossMonitor, TimeMonitor
from .summary import SummaryCollector

__all__ = ["Callback", "CallbackList", "CallbackParams", "CheckpointConfig", "EarlyStopping", "HOOKS", "History",
           "LambdaCallback", "LearningRateScheduler", "LossMonitor", "ModelCheckpoint", "ReduceLROnPlateau",
           "RunContext", "SummaryCollector", "TimeMonitor", "loss_value"]
