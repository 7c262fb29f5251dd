"""mindspore.mindrecord: runtime.dataset.mindrecord (MindRecord is refused, with what to use instead)."""
import runtime.dataset.mindrecord
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset.mindrecord)
