"""mindvision, renamed graphc.mindvision: the parts of it the MindSpore tutorials import (Mnist, lenet,
LossMonitor), as faces over runtime.dataset, graphc.models and runtime.callbacks."""
from graphc.faces import face

__getattr__, __dir__ = face(__name__)
