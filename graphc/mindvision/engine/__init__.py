"""mindvision.engine: its `callback` submodule."""
from graphc.faces import face

__getattr__, __dir__ = face(__name__)
