"""Model zoo."""
from .classifier import BaseClassifier
from .lenet import LeNet5, lenet

__all__ = ["BaseClassifier", "LeNet5", "lenet"]
