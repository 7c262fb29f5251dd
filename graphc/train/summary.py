"""mindspore.train.summary: SummaryRecord (runtime/summary.py)."""
import runtime.summary
from graphc.faces import face

__getattr__, __dir__ = face(__name__, runtime.summary)
