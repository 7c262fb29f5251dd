"""mindspore.train.serialization: save_checkpoint, load_checkpoint, load_param_into_net (runtime.checkpoint)."""
import runtime.checkpoint
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.checkpoint)
