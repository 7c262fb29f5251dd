"""Optimizers and learning-rate schedules with MindSpore's names, defaults and update rules."""
from . import adagrad, adam, lr, momentum, optimizer, rmsprop, sgd
from .adagrad import Adagrad
from .adam import Adam, AdamWeightDecay
from .lr import (CosineDecayLR, ExponentialDecayLR, LearningRateSchedule, PolynomialDecayLR, WarmUpLR,
                 cosine_decay_lr, exponential_decay_lr, piecewise_constant_lr, warmup_lr)
from .momentum import Momentum
from .optimizer import Optimizer
from .rmsprop import RMSProp
from .sgd import SGD

__all__ = (optimizer.__all__ + momentum.__all__ + sgd.__all__ + adam.__all__ + adagrad.__all__ + rmsprop.__all__
           + lr.__all__)
