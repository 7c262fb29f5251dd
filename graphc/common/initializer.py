"""mindspore.common.initializer: graphc.nn.init (Normal, HeUniform, initializer, ...)."""
import graphc.nn.init
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.nn.init)
