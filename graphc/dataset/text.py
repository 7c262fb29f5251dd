"""mindspore.dataset.text. graphc has none of it yet: every name raises MissingApiError."""
from graphc.faces import face

__getattr__, __dir__ = face(__name__)
