"""mindspore.dataset.text: runtime.dataset.text."""
import runtime.dataset.text
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.dataset.text)
