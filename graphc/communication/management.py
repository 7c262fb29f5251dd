"""mindspore.communication.management: init, get_rank, get_group_size, ... (graphc.communication)."""
import graphc.communication
from graphc.faces import face

__getattr__, __dir__ = face(__name__, graphc.communication)
