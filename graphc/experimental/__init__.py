"""mindspore.experimental: its `optim` subpackage (a face: docs/architecture.md)."""
from graphc.faces import face

__getattr__, __dir__ = face(__name__)
