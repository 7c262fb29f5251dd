"""mindvision.engine.callback (LossMonitor in mindvision's form): runtime.callbacks."""
import runtime.callbacks
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.callbacks)
