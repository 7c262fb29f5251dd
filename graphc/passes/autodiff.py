"""The autodiff pass: graphc.autodiff.expand_gradients, which replaces `grad` placeholders by
gradient subgraphs. The optimizer update needs no pass of its own: TrainOneStepCell traces it as
assign nodes, so after this pass one graph holds forward, backward and update."""
from __future__ import annotations

from ..autodiff import expand_gradients
from ..ir import Graph
from .manager import PassContext, register_pass


@register_pass("autodiff")
def autodiff(graph: Graph, ctx: PassContext) -> bool:
    return expand_gradients(graph)
