"""mindvision.classification.models (lenet, resnet50, ...): graphc.models."""
import graphc.models
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.models)
