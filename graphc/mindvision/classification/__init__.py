"""mindvision.classification: its `dataset` and `models` submodules."""
from graphc.faces import face

__getattr__, __dir__ = face(__name__)
